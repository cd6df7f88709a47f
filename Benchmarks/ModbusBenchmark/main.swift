print("ModbusBenchmark: not yet written")
