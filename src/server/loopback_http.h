// A minimal blocking HTTP/1.1 client for loopback servers (one request per connection), used by
// `parley loadgen` and the server's tests.
//
// It exists because net::http_stream()/http_fetch() refuse every response that has a
// Content-Length with Boost 1.74 ("body limit exceeded": src/net/client.cc sets
// parser_.body_limit(boost::none), and Beast 1.74 compares `len_ > body_limit_` with an empty
// optional as true). Once src/net passes a numeric limit instead, callers should go back to
// net::http_fetch and this file should go.
#pragma once

#include <chrono>
#include <string>

#include "parley/net/http.h"
#include "parley/status.h"

namespace parley::server {

// Sends `method url` (http:// only) with `body` and `headers` and reads the whole response.
// Blocks up to `timeout`. Content-Length and close-delimited bodies are supported (not chunked).
Result<net::HttpResponse> loopback_http(const std::string& method, const std::string& url,
                                        const std::string& body, const net::HttpHeaders& headers,
                                        std::chrono::milliseconds timeout);

}  // namespace parley::server
