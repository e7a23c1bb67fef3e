// What `gsnap serve` writes about an HTTP request in its log: the request line without the values
// of its query string. The API takes its token in a header only, but a client that sends one in
// the URL (`?token=...`, as some tools do) must not find it in a log that others read. Pure.

/** The request's path with every query value replaced: `/v1/x?token=<redacted>`. */
export function redactedUrl(url: string): string {
  const at = url.indexOf("?");
  if (at < 0) return url;
  const query = url
    .slice(at + 1)
    .split("&")
    .map((part) => {
      const equals = part.indexOf("=");
      return equals < 0 ? part : `${part.slice(0, equals)}=<redacted>`;
    })
    .join("&");
  return `${url.slice(0, at)}?${query}`;
}

/** The fields of a request in a log line (those of Fastify's own serializer, the URL redacted). */
export function requestFields(request: {
  method?: string;
  url?: string;
  host?: string;
  socket?: { remoteAddress?: string; remotePort?: number };
}): Record<string, unknown> {
  return {
    method: request.method,
    url: redactedUrl(request.url ?? ""),
    host: request.host,
    remoteAddress: request.socket?.remoteAddress,
    remotePort: request.socket?.remotePort,
  };
}
