"""An HTTP/1.1 upstream on 127.0.0.1, port 0, that answers one request per connection with a
keep-alive reply and then closes the connection from its side a moment later, as upstreams do
with idle connections. Prints its port, CONN for each connection and CLOSED once it has closed it."""
import re
import socket
import time

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(16)
print("PORT", server.getsockname()[1], flush=True)
count = 0
while True:
    conn, _ = server.accept()
    count += 1
    print("CONN", count, flush=True)
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            break
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    length = int(m.group(1)) if m else 0
    while len(rest) < length:
        more = conn.recv(65536)
        if not more:
            break
        rest += more
    body = b'{"id":"c%d","object":"chat.completion","choices":[]}' % count
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    # Long enough for the proxy to put the connection back in its pool first.
    time.sleep(0.2)
    conn.close()
    print("CLOSED", count, flush=True)
