"""What every loopback test peer does once its server socket is bound: announce the port (to a file,
written atomically, so a test can wait for it) and serve for a bounded time, then stop by itself."""
import os
import threading


def serve_bounded(server, port_file, max_seconds, banner):
    """`banner(port)` gives the line printed once the port is known."""
    port = server.server_address[1]
    if port_file:
        with open(port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(port_file + ".tmp", port_file)
    print(banner(port), flush=True)
    timer = threading.Timer(max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    server.serve_forever()
