// The official Deepgram JavaScript SDK, pointed at `parley model-serve`, transcribes a LibriVox
// recording through /v1/listen (Results, then Metadata) and synthesises speech through /v1/speak.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { DeepgramClient } from "@deepgram/sdk";
import { LIBRIVOX, startModelServer } from "../lib/server.mjs";

let server;
before(async () => {
  server = await startModelServer(["--decoders", "2", "--warm-decoders", "1"]);
});
after(async () => server && (await server.stop()));

function client() {
  // baseUrl replaces wss://api.deepgram.com for every socket; the key is sent as
  // "Authorization: Token ..." and ignored by the model server.
  return new DeepgramClient({ apiKey: "not-needed-locally", baseUrl: `ws://${server.base}` });
}

const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

test("listen.v1 transcribes a LibriVox WAV and ends with Metadata", async () => {
  const wav = readFileSync(`${LIBRIVOX}/sense_and_sensibility_01_austen_64kb-0870.wav`);
  const connection = await client().listen.v1.connect({
    model: "nova-3",
    language: "en",
    interim_results: "true",
    punctuate: "true",
    vad_events: "true",
    reconnectAttempts: 0,
  });
  const messages = [];
  const closed = new Promise((ok) => connection.on("close", ok));
  connection.on("message", (m) => messages.push(m));
  connection.on("error", (e) => messages.push({ type: "error", e: String(e) }));
  connection.connect();
  await connection.waitForOpen();
  // The WAV file as is (no encoding parameter: the server reads the header), in 16 KiB chunks at
  // about four times real time (32 kB/s of audio).
  for (let i = 0; i < wav.length; i += 16384) {
    connection.sendMedia(wav.subarray(i, i + 16384));
    await sleep(125);
  }
  connection.sendCloseStream({ type: "CloseStream" });
  const event = await closed;
  const finals = messages.filter((m) => m.type === "Results" && m.is_final);
  const transcript = finals.map((m) => m.channel.alternatives[0].transcript).join(" ");
  console.log("transcript:", transcript);
  assert.ok(finals.length >= 1, JSON.stringify(messages).slice(0, 2000));
  assert.match(transcript.toLowerCase(), /dashwood|leisure|prudently|power/);
  const words = finals.flatMap((m) => m.channel.alternatives[0].words);
  assert.ok(words.length > 5);
  for (const w of words) assert.ok(w.end >= w.start && typeof w.confidence === "number");
  assert.ok(messages.some((m) => m.type === "Results" && !m.is_final), "interim results");
  assert.ok(messages.some((m) => m.type === "SpeechStarted"));
  const meta = messages.filter((m) => m.type === "Metadata");
  assert.equal(meta.length, 1);
  assert.equal(meta[0].channels, 1);
  assert.ok(Math.abs(meta[0].duration - 7.1) < 0.05, `duration ${meta[0].duration}`);
  assert.match(meta[0].request_id, /^[0-9a-f-]{36}$/);
  assert.equal(messages.at(-1).type, "Metadata");
  assert.equal(event.code, 1000);
});

test("listen.v1 refuses an unknown parameter before upgrading", async () => {
  // The handshake is answered with a plain 400 and Deepgram's JSON error, nothing is upgraded.
  const res = await new Promise((ok, fail) => {
    const req = http.get({
      host: "127.0.0.1",
      port: server.port,
      path: "/v1/listen?model=nova-3&diarize=true",
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" },
    });
    req.on("response", ok);
    req.on("upgrade", () => fail(new Error("upgraded")));
    req.on("error", fail);
  });
  let body = "";
  for await (const chunk of res) body += chunk;
  assert.equal(res.statusCode, 400);
  assert.match(res.headers["dg-error"], /diarize/);
  const json = JSON.parse(body);
  assert.equal(json.err_code, "INVALID_QUERY_PARAMETER");
  assert.match(json.err_msg, /diarize/);
});

test("speak.v1 streams linear16 audio and answers Flush with Flushed", async () => {
  const connection = await client().speak.v1.connect({
    model: "aura-2-thalia-en",
    encoding: "linear16",
    sample_rate: 16000,
    reconnectAttempts: 0,
  });
  let audioBytes = 0;
  const messages = [];
  connection.on("message", (m) => {
    // Binary frames arrive as Blobs (JSON messages as parsed objects).
    if (m instanceof Blob) audioBytes += m.size;
    else if (m instanceof ArrayBuffer || ArrayBuffer.isView(m)) audioBytes += m.byteLength;
    else messages.push(m);
  });
  const flushed = new Promise((ok) => {
    const poll = setInterval(() => {
      if (messages.some((m) => m.type === "Flushed")) {
        clearInterval(poll);
        ok();
      }
    }, 20);
  });
  connection.connect();
  await connection.waitForOpen();
  connection.sendText({ type: "Speak", text: "Hello from Parley's model server." });
  connection.sendFlush({ type: "Flush" });
  await flushed;
  await sleep(100);
  connection.close();
  assert.ok(messages.some((m) => m.type === "Metadata"));
  assert.equal(messages.find((m) => m.type === "Flushed").sequence_id, 0);
  assert.ok(audioBytes > 16000, `only ${audioBytes} bytes of audio`);
});
