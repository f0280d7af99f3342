/** A plain HTTP request (to 127.0.0.1 unless told) for unit tests of the LAN-side listener: status, headers, body bytes. */
import { request, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";

export function httpRequest(port: number, path: string, method = "GET", headers: OutgoingHttpHeaders = {}, host = "127.0.0.1"): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}
