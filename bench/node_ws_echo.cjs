// The comparison server of bench/model_server_bench.sh: a `ws` (npm) echo server, text back as
// text and binary as binary, like `parley model-serve`'s default bidirectional route.
// Usage: NODE_PATH=tests/node/node_modules node bench/node_ws_echo.cjs [PORT]
const { WebSocketServer } = require("ws");

const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2] || 0),
  perMessageDeflate: false,
});
wss.on("listening", () => console.log(`listening on 127.0.0.1:${wss.address().port}`));
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
process.on("SIGTERM", () => process.exit(0));
