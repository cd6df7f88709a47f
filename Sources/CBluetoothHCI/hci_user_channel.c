#include "hci_user_channel.h"
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bluetooth/bluetooth.h>
#include <bluetooth/hci.h>

#ifndef HCI_CHANNEL_USER
#define HCI_CHANNEL_USER 1
#endif

int fe_hci_user_channel_open(int index) {
    int fd = socket(AF_BLUETOOTH, SOCK_RAW | SOCK_CLOEXEC, BTPROTO_HCI);
    if (fd < 0) return -errno;
    struct sockaddr_hci address = {0};
    address.hci_family = AF_BLUETOOTH;
    address.hci_dev = (unsigned short)index;
    address.hci_channel = HCI_CHANNEL_USER;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}
