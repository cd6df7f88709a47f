print("UploadBenchmark: not yet written")
