/// The Bluetooth LE host stack: H4 transports, HCI, L2CAP, ATT/GATT, SMP and device sessions.
enum BluetoothModule {}
