/// Pure decoders for Bluetooth SIG health characteristics, IEEE 11073 numbers and BTHome adverts.
enum BluetoothDecodingModule {}
