// Minimal blocking HTTP/1.1 client (see loopback_http.h for why it exists).
#include "loopback_http.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace parley::server {

namespace {

// Closes the descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>(left.count())) > 0;
}

}  // namespace

Result<net::HttpResponse> loopback_http(const std::string& method, const std::string& url,
                                        const std::string& body, const net::HttpHeaders& headers,
                                        std::chrono::milliseconds timeout) {
  PARLEY_ASSIGN_OR_RETURN(net::Url u, net::parse_url(url));
  if (u.scheme != "http") return invalid_argument("only http:// URLs are supported: " + url);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(u.host.c_str(), std::to_string(u.port).c_str(), &hints, &res) != 0 || !res)
    return unavailable("cannot resolve " + u.host);
  Fd s{socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  const int rc = s.fd >= 0 ? connect(s.fd, res->ai_addr, res->ai_addrlen) : -1;
  freeaddrinfo(res);
  if (rc != 0) return unavailable(url + ": connect failed: " + std::strerror(errno));
  std::string req = method + " " + u.target + " HTTP/1.1\r\nHost: " + u.host_header() +
                    "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\n";
  for (const auto& [k, v] : headers.fields()) req += k + ": " + v + "\r\n";
  req += "\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    if (!wait_fd(s.fd, POLLOUT, deadline)) return deadline_exceeded(url + ": send timed out");
    const ssize_t n = send(s.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return unavailable(url + ": send failed: " + std::strerror(errno));
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[16384];
  for (;;) {
    if (!wait_fd(s.fd, POLLIN, deadline)) return deadline_exceeded(url + ": no response in time");
    const ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
    if (n < 0) return unavailable(url + ": receive failed: " + std::strerror(errno));
    if (n == 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  const size_t head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || in.size() < 12)
    return data_loss(url + ": malformed HTTP response");
  net::HttpResponse r;
  r.status = std::atoi(in.c_str() + 9);
  size_t pos = in.find("\r\n") + 2;
  while (pos < head_end) {
    const size_t eol = in.find("\r\n", pos);
    const std::string line = in.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers.add(line.substr(0, colon), value);
    }
    pos = eol + 2;
  }
  r.body = in.substr(head_end + 4);
  if (auto len = r.headers.get("Content-Length")) {
    const size_t want = std::strtoul(std::string(*len).c_str(), nullptr, 10);
    if (r.body.size() < want) return data_loss(url + ": response body cut short");
    r.body.resize(want);
  }
  return r;
}

}  // namespace parley::server
