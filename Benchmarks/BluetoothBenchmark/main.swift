print("BluetoothBenchmark: not yet written")
