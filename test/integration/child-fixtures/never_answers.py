"""A child that listens on $PORT and accepts connections but never answers a request."""
import os
import socket
import time

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((os.environ.get("HOST", "127.0.0.1"), int(os.environ["PORT"])))
server.listen(64)
held = []
while True:
    conn, _ = server.accept()
    held.append(conn)  # keep it open, say nothing
    if len(held) > 1000:
        held.pop(0).close()
    time.sleep(0)
