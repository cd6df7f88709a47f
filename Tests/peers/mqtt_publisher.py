"""Publishes demo-vitals device messages with QoS 1 to a broker on loopback, for the MQTT intake tests.

Each message carries a unique messageId (mqtt-<run>-<n>), so the store can be searched for it.
The session is persistent (fixed client id, clean session off): when the broker restarts, paho
reconnects and retransmits what the broker had not acknowledged. Prints one line per 100 PUBACKs
and `PUBLISHED <n>` when every message has been acknowledged by the broker; exit 1 on timeout.
"""

import argparse
import sys
import threading
import time

import paho.mqtt.client as mqtt


def payload(run, index, device):
    second = index % 3600
    return ('{"deviceId":"%s","patientId":"patient-%s","measuredAt":"2026-11-27T%02d:%02d:%02dZ",'
            '"heartRate":%d,"spo2":97,"messageId":"mqtt-%s-%d"}'
            % (device, device, 8 + second // 3600, (second // 60) % 60, second % 60, 60 + index % 40, run, index))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--run", default="a")
    parser.add_argument("--profile", default="demo-vitals")
    parser.add_argument("--devices", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.004, help="seconds between publishes")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    acknowledged = set()
    lock = threading.Lock()
    connected = threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            connected.set()

    def on_disconnect(client, userdata, flags, reason_code, properties):
        connected.clear()

    def on_publish(client, userdata, mid, reason_code, properties):
        with lock:
            acknowledged.add(mid)
            if len(acknowledged) % 100 == 0:
                print("ACKED %d" % len(acknowledged), flush=True)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="publisher-" + args.run,
                         clean_session=False, protocol=mqtt.MQTTv311)
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.max_inflight_messages_set(20)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=0.05, max_delay=0.5)
    client.connect_async("127.0.0.1", args.port, keepalive=10)
    client.loop_start()
    deadline = time.time() + args.timeout
    if not connected.wait(timeout=20):
        print("could not connect to the broker", file=sys.stderr)
        return 1

    mids = []
    for index in range(args.count):
        device = "monitor-%d" % (index % args.devices)
        topic = "fhir-edge/%s/%s" % (args.profile, device)
        # While the broker is away, messages queue in the client and go out on reconnect.
        info = client.publish(topic, payload(args.run, index, device), qos=1)
        mids.append(info.mid)
        time.sleep(args.interval)

    while time.time() < deadline:
        with lock:
            if all(mid in acknowledged for mid in mids):
                break
        time.sleep(0.05)
    with lock:
        missing = [mid for mid in mids if mid not in acknowledged]
    client.disconnect()
    client.loop_stop()
    if missing:
        print("%d messages not acknowledged by the broker" % len(missing), file=sys.stderr)
        return 1
    print("PUBLISHED %d" % len(mids), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
