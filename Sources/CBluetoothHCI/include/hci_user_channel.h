#ifndef FHIR_EDGE_HCI_USER_CHANNEL_H
#define FHIR_EDGE_HCI_USER_CHANNEL_H

/// Opens the kernel's HCI user channel on adapter `index` (hciN); returns the socket or -errno.
int fe_hci_user_channel_open(int index);

#endif
