// A loopback reverse proxy for the conformance suite, which cannot send a token: it listens on
// 127.0.0.1:LISTEN_PORT, adds "Authorization: Bearer $MCP_TOKEN" and forwards to UPSTREAM,
// keeping every other header (Host and Origin too, for the DNS-rebinding checks) and streaming
// bodies both ways (event streams included).
import http from "node:http";

const upstream = new URL(process.env.UPSTREAM);
const port = Number(process.env.LISTEN_PORT);

http
  .createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${process.env.MCP_TOKEN}` };
    const forward = http.request(
      { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(String(error));
    });
    res.on("close", () => forward.destroy());
    req.pipe(forward);
  })
  .listen(port, "127.0.0.1", () => console.log(`auth proxy on ${port}`));
