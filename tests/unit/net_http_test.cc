// parley_net without sockets: URLs, query strings, headers, responses, SSE parsing, options.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "parley/net/http.h"
#include "parley/net/server.h"
#include "parley/net/sse.h"

namespace parley::net {
namespace {

TEST(NetUrl, ParsesSchemesPortsAndTargets) {
  auto u = parse_url("ws://127.0.0.1:8080/v1/listen?model=x&a=1");
  ASSERT_TRUE(u.is_ok()) << u.status().to_string();
  EXPECT_EQ(u->scheme, "ws");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/v1/listen?model=x&a=1");
  EXPECT_FALSE(u->secure());
  EXPECT_EQ(u->host_header(), "127.0.0.1:8080");

  auto s = parse_url("WSS://api.deepgram.com");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(s->scheme, "wss");
  EXPECT_EQ(s->port, 443);
  EXPECT_EQ(s->target, "/");
  EXPECT_EQ(s->host_header(), "api.deepgram.com");

  auto v6 = parse_url("http://[::1]:9000?x=1#frag");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->target, "/?x=1");
  EXPECT_EQ(v6->to_string(), "http://[::1]:9000/?x=1");
}

TEST(NetUrl, RefusesWhatItCannotUseAndSaysWhy) {
  EXPECT_NE(parse_url("localhost:8080").status().message().find("no scheme"), std::string::npos);
  EXPECT_NE(parse_url("ftp://x/").status().message().find("ftp"), std::string::npos);
  EXPECT_NE(parse_url("http://x:0/").status().message().find("port"), std::string::npos);
  EXPECT_NE(parse_url("http://x:99999/").status().message().find("port"), std::string::npos);
  EXPECT_FALSE(parse_url("http:///path").is_ok());
  EXPECT_FALSE(parse_url("http://[::1/").is_ok());
}

TEST(NetQuery, DecodesAndEncodesRoundTrip) {
  auto q = parse_query("a=1&b=hello+world&c=%2Fx%3F&flag&&empty=");
  ASSERT_EQ(q.size(), 5u);
  EXPECT_EQ(q[0], (QueryParam{"a", "1"}));
  EXPECT_EQ(q[1], (QueryParam{"b", "hello world"}));
  EXPECT_EQ(q[2], (QueryParam{"c", "/x?"}));
  EXPECT_EQ(q[3], (QueryParam{"flag", ""}));
  EXPECT_EQ(q[4], (QueryParam{"empty", ""}));
  EXPECT_EQ(parse_query(build_query(q)), q);
  EXPECT_EQ(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
  EXPECT_EQ(percent_decode("100%"), "100%");  // malformed escapes are kept
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");

  std::string path;
  std::vector<QueryParam> query;
  split_target("/v1/list%65n?model=nova-3", path, query);
  EXPECT_EQ(path, "/v1/listen");
  ASSERT_EQ(query.size(), 1u);
  EXPECT_EQ(query[0].second, "nova-3");
}

TEST(NetHeaders, LookupIgnoresCaseAndSetReplaces) {
  HttpHeaders h;
  h.add("Content-Type", "text/plain");
  h.add("X-A", "1");
  h.add("x-a", "2");
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_EQ(h.get("X-A"), "1");
  h.set("X-a", "3");
  EXPECT_EQ(h.get("x-A"), "3");
  EXPECT_EQ(h.fields().size(), 2u);
  h.remove("CONTENT-TYPE");
  EXPECT_FALSE(h.has("Content-Type"));

  HttpRequest r;
  r.query = {{"k", "v"}};
  EXPECT_EQ(r.query_param("k"), "v");
  EXPECT_FALSE(r.query_param("K").has_value());
}

TEST(NetResponse, JsonErrorHasStableShape) {
  auto r = HttpResponse::json_error(404, "not_found", "no route for /x");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(j["error"]["message"], "no route for /x");
  // Messages often quote what the client sent (a percent-decoded path or query value), which
  // need not be UTF-8: the body stays valid JSON instead of the serialiser throwing.
  HttpResponse bad;
  ASSERT_NO_THROW(bad = HttpResponse::json_error(404, "not_found", "no route for /\xFF\xFEx"));
  auto b = nlohmann::json::parse(bad.body, nullptr, false);
  ASSERT_TRUE(b.is_object()) << bad.body;
  EXPECT_EQ(b["error"]["message"], "no route for /\uFFFD\uFFFDx");
  EXPECT_EQ(http_status_reason(503), "Service Unavailable");
  EXPECT_EQ(http_status_reason(799), "Unknown");
}

TEST(NetOptions, ValidateNamesTheBadField) {
  WsOptions ws;
  EXPECT_TRUE(ws.validate().is_ok());
  ws.max_missed_pongs = 0;
  EXPECT_NE(ws.validate().message().find("max_missed_pongs"), std::string::npos);
  ServerOptions s;
  EXPECT_TRUE(s.validate().is_ok());
  s.host = "";
  EXPECT_NE(s.validate().message().find("host"), std::string::npos);
  EXPECT_NE(ServerOptions{}.to_string().find("8080"), std::string::npos);
}

std::vector<SseEvent> parse_all(const std::string& stream, size_t split_every) {
  std::vector<SseEvent> events;
  SseParser p([&](const SseEvent& e) { events.push_back(e); });
  for (size_t i = 0; i < stream.size(); i += split_every) p.feed(stream.substr(i, split_every));
  p.finish();
  return events;
}

TEST(NetSse, ParsesEventsSplitAnywhere) {
  const std::string stream =
      "\xEF\xBB\xBF: comment\r\n"
      "event: delta\r\n"
      "data: {\"a\":1}\r\n"
      "id: 7\r\n"
      "\r\n"
      "data: line1\n"
      "data:line2\n"
      "retry: 3000\n"
      "\n"
      "data: [DONE]";  // no trailing blank line: dispatched by finish()
  for (size_t split : {1u, 2u, 3u, 5u, 7u, 1000u}) {
    auto ev = parse_all(stream, split);
    ASSERT_EQ(ev.size(), 3u) << "split " << split;
    EXPECT_EQ(ev[0].event, "delta");
    EXPECT_EQ(ev[0].data, "{\"a\":1}");
    EXPECT_EQ(ev[0].id, "7");
    EXPECT_EQ(ev[1].event, "message");
    EXPECT_EQ(ev[1].data, "line1\nline2");
    EXPECT_EQ(ev[1].id, "7");  // the last id persists
    EXPECT_EQ(ev[1].retry_ms, 3000);
    EXPECT_EQ(ev[2].data, "[DONE]");
  }
}

TEST(NetSse, EventsWithoutDataAreNotDispatched) {
  auto ev = parse_all("event: ping\n\n: keep-alive\n\n", 4);
  EXPECT_TRUE(ev.empty());
}

}  // namespace
}  // namespace parley::net
