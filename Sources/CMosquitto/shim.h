#ifndef FHIR_EDGE_CMOSQUITTO_SHIM_H
#define FHIR_EDGE_CMOSQUITTO_SHIM_H
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <mosquitto.h>

/* Ends the TCP connection under libmosquitto at once, in both directions. libmosquitto 2.0 queues
 * a QoS 1 PUBACK before it calls on_message and writes it only when its loop next writes; cutting
 * the socket inside the callback is how a message that was not committed stays unacknowledged
 * (the broker redelivers it to the persistent session). The next reconnect drops the queued packets. */
static inline int cmq_cut_connection(struct mosquitto *mosq) {
    int fd = mosquitto_socket(mosq);
    if (fd < 0) return -1;
    return shutdown(fd, SHUT_RDWR);
}

/* OpenSSL writes with write(2): a broker that closed its end would raise SIGPIPE and end the
 * process; the error is handled as a lost connection instead. */
static inline void cmq_ignore_sigpipe(void) {
    signal(SIGPIPE, SIG_IGN);
}

static inline const char *cmq_error_text(int rc) {
    return mosquitto_strerror(rc);
}

static inline const char *cmq_connack_text(int rc) {
    return mosquitto_connack_string(rc);
}
#endif
