// The `ws` package against /invocations-bidirectional-stream: echo of fragmented text and binary
// messages, RFC 6455 ping/pong both ways, Close echoed with its code, and the server's own
// keep-alive pings closing a client that stops answering them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startModelServer } from "../lib/server.mjs";

let server;
before(async () => {
  server = await startModelServer([
    "--decoders", "1", "--warm-decoders", "1", "--ping-interval-s", "0.2", "--max-missed-pongs", "3",
  ]);
});
after(async () => server && (await server.stop()));

function open(options = {}) {
  const ws = new WebSocket(`ws://${server.base}/invocations-bidirectional-stream`, options);
  return new Promise((ok, fail) => {
    ws.once("open", () => ok(ws));
    ws.once("error", fail);
  });
}
const next = (ws, event) => new Promise((ok) => ws.once(event, (...a) => ok(a)));

test("fragmented text and binary messages are reassembled and echoed in kind", async () => {
  const ws = await open();
  ws.send("I need ", { fin: false });
  ws.send("help ", { fin: false });
  ws.send("with my account", { fin: true });
  let [data, isBinary] = await next(ws, "message");
  assert.equal(isBinary, false);
  assert.equal(data.toString(), "I need help with my account");

  const a = Buffer.from([0, 1, 2, 255]);
  const b = Buffer.alloc(100000, 7);
  ws.send(a, { binary: true, fin: false });
  ws.send(b, { binary: true, fin: true });
  [data, isBinary] = await next(ws, "message");
  assert.equal(isBinary, true);
  assert.deepEqual(Buffer.from(data), Buffer.concat([a, b]));
  ws.close(4001, "done");
  const [code] = await next(ws, "close");
  assert.equal(code, 4001);  // the server echoes the client's close code (RFC 6455 §5.5.1)
});

test("client pings are answered and server pings arrive", async () => {
  const ws = await open();
  ws.ping("are you there");
  const [payload] = await next(ws, "pong");
  assert.equal(payload.toString(), "are you there");
  await next(ws, "ping");  // the server pings every 0.2 s; ws answers automatically
  await new Promise((ok) => setTimeout(ok, 1000));  // > 3 intervals: still open
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close(1000);
  await next(ws, "close");
});

test("a client that stops answering pings is closed after the missed-pong limit", async () => {
  const ws = await open({ autoPong: false });
  const started = Date.now();
  const [code, reason] = await next(ws, "close");
  assert.equal(code, 1001);
  assert.match(reason.toString(), /NET-0002/);
  assert.ok(Date.now() - started >= 500, "closed too early");
});

test("JSON control in a binary frame ends the stream with 1000", async () => {
  const ws = await open();
  ws.send(Buffer.from('{"type":"CloseStream"}'), { binary: true });
  const [code] = await next(ws, "close");
  assert.equal(code, 1000);
});
