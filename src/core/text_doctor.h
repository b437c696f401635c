#pragma once
// The doctor's findings added with the "no failure without a finding" invariant (issue 12): the
// generic finding of each stage, and the endings that had none (mutual TLS, HTTP interim-only
// answers and redirect chains, a silent service, addresses that fail while others work). Part of
// the catalog in text.h (same rules: fmt templates with named evidence, one X(id, English) each).

// clang-format off
#define CONNSCOPE_DOCTOR_MESSAGES(X)                                                              \
  X(help_doctor_cert, "A client certificate (PEM, chain after the leaf) to present when the server asks for one (mutual TLS); with --key") \
  X(help_doctor_key, "The private key (PEM) of --cert")                                              \
  X(opt_ipv4_with_v6, "an IPv4 address with -6")                                                 \
  X(opt_ipv6_with_v4, "an IPv6 address with -4")                                                 \
  X(opt_range, "must be {min} to {max}")                                                          \
  X(opt_cert_and_key, "needs --cert and --key together")                                          \
  X(doctor_unknown_protocol, "unknown protocol ({known})")                                        \
  X(doctor_path_slash, "must start with /")                                                       \
  X(d_no_subject, "none")                                                                         \
  X(c_dns_failed_summary, "resolving {name} failed: {error}")                                      \
  X(c_dns_failed_cause,                                                                           \
    "The lookup ended in a way connscope has no specific rule for; the error is what the "        \
    "resolver library (c-ares) reported.")                                                        \
  X(c_dns_failed_fix,                                                                             \
    "Ask a known resolver: connscope doctor {name} --resolver IP; dig {name} shows the raw "      \
    "answer; check /etc/resolv.conf.")                                                            \
  X(c_net_route_failed_summary, "the route to {address} could not be looked up: {error}")         \
  X(c_net_route_failed_cause,                                                                     \
    "The kernel's routing table could not be asked (rtnetlink failed); the connect was tried "    \
    "anyway, and this says nothing about the path.")                                             \
  X(c_net_route_failed_fix, "ip route get {address} asks the same question by hand.")              \
  X(c_net_no_echo_reply_summary, "{address} answered none of {sent} ICMP echo requests")         \
  X(c_net_no_echo_reply_cause,                                                                    \
    "Many hosts and firewalls drop ICMP echo, so this alone never means the host is down; with "  \
    "the connect failing too, the host may be down, or a firewall drops everything from here.")  \
  X(c_net_no_echo_reply_fix,                                                                      \
    "The connect stage's finding says more; from a machine next to the host, ping {address} "     \
    "tells a dropped echo from a host that is down.")                                             \
  X(c_net_reach_failed_summary, "ICMP echo to {address} ended unexpectedly: {error}")             \
  X(c_net_reach_failed_cause,                                                                     \
    "The echo probe itself failed; the other stages do not depend on it.")                         \
  X(c_net_reach_failed_fix, "ping -c 3 {address} tries the same by hand.")                         \
  X(c_tcp_connect_failed_summary, "connecting to {endpoint} failed: {error}")                       \
  X(c_tcp_connect_failed_cause,                                                                   \
    "The handshake ended in a way connscope has no specific rule for; the error is what the "     \
    "kernel reported for the socket.")                                                            \
  X(c_tcp_connect_failed_fix,                                                                     \
    "Look at this host's limits and rules first (ulimit -n, sysctl net.ipv4.ip_local_port_range, " \
    "nft list ruleset); connscope trace {endpoint} shows the path.")                             \
  X(c_tls_handshake_failed_summary, "the TLS handshake with {endpoint} failed: {error}")          \
  X(c_tls_handshake_failed_cause,                                                                 \
    "The handshake ended in a way connscope has no specific rule for; the error is OpenSSL's.")   \
  X(c_tls_handshake_failed_fix,                                                                   \
    "openssl s_client -connect {endpoint} -servername {sni} shows the handshake step by step; "   \
    "compare the server's protocols and ciphers with what this client offers.")                   \
  X(c_app_failed_summary, "talking {protocol} to {endpoint} failed: {error}")                      \
  X(c_app_failed_cause,                                                                           \
    "The exchange ended in a way connscope has no specific rule for; the error is what the "      \
    "socket or TLS layer reported.")                                                              \
  X(c_app_failed_fix,                                                                             \
    "Try the protocol by hand (curl -v, nc, openssl s_client) and read the server's logs for "    \
    "this connection.")                                                                           \
  X(c_tcp_close_failed_summary, "closing the connection to {endpoint} failed: {error}")           \
  X(c_tcp_close_failed_cause,                                                                     \
    "Our half-close or the wait for the peer's end failed locally; the exchange itself was "      \
    "complete.")                                                                                  \
  X(c_tcp_close_failed_fix, "ss -tni dst {endpoint} shows the connection's state while it closes.") \
  X(c_tls_client_cert_required_summary,                                                           \
    "{endpoint} wants a client certificate: it refused the TLS handshake with alert {alert}")     \
  X(c_tls_client_cert_required_cause,                                                             \
    "The server requires mutual TLS and did not accept what we presented ({client_cert}). A TLS " \
    "1.3 server says so after the handshake, with the first read (certificate required); a TLS "  \
    "1.2 server ends the handshake (handshake failure, bad certificate, unknown CA).")              \
  X(c_tls_client_cert_required_fix,                                                               \
    "Present a certificate the server trusts: connscope doctor {endpoint} --tls --cert "          \
    "client.pem --key client.key (curl --cert --key; openssl s_client -cert -key). If you did, "  \
    "the server does not trust its issuer: openssl s_client -connect {endpoint} lists the "       \
    "'Acceptable client certificate CA names'.")                                                  \
  X(c_http_no_final_response_cause,                                                               \
    "A 1xx answer (100 Continue, 102 Processing, 103 Early Hints) promises a final response; none " \
    "came. The application behind is stuck on this request, or a proxy answers 100 Continue by "  \
    "itself and waits on an upstream that never replies.")                                        \
  X(c_http_no_final_response_fix,                                                                 \
    "curl -v {url} shows the same exchange; read the application's and the proxy's logs for "     \
    "this request and check the upstream's timeouts (nginx proxy_read_timeout).")                  \
  X(c_http_redirect_loop_summary, "{url} redirects in a loop: {chain}")                            \
  X(c_http_redirect_loop_cause,                                                                   \
    "A response sends the client back to a URL it already visited, so no client ever gets a "     \
    "page (browsers stop with 'too many redirects'). Usual causes: an HTTP-to-HTTPS redirect in "  \
    "an application behind a TLS-terminating proxy that forwards plain HTTP, or the same "        \
    "www/non-www or trailing-slash rule in both the proxy and the application.")                  \
  X(c_http_redirect_loop_fix,                                                                     \
    "curl -sIL --max-redirs 12 {url} shows the chain; make the application trust the proxy's "    \
    "X-Forwarded-Proto, or keep each redirect rule in one place.")                                 \
  X(c_http_too_many_redirects_summary,                                                            \
    "{url}: {count} redirects and still no final answer ({chain})")                               \
  X(c_http_too_many_redirects_cause,                                                              \
    "Clients give up after a bounded number of redirects (curl and browsers after about 20, many " \
    "libraries after 10), so this URL never serves a page to them.")                              \
  X(c_http_too_many_redirects_fix,                                                                \
    "curl -sIL --max-redirs 30 {url} shows where the chain goes; point the first redirect at the " \
    "final URL.")                                                                                 \
  X(c_app_truncated_reply_summary,                                                                \
    "{endpoint} ended the connection ({close}) after {bytes_received} bytes, before its reply was complete") \
  X(c_app_truncated_reply_cause,                                                                  \
    "The server (or something in front of it) closed in the middle of its answer: a crash or "    \
    "restart of the worker, a proxy's timeout, or a limit on the response.")                      \
  X(c_app_truncated_reply_fix, "Read the server's and the proxy's logs for this connection at this time.") \
  X(c_app_silent_summary,                                                                         \
    "{endpoint} accepts connections but says nothing: no greeting, no answer to {tried}")         \
  X(c_app_silent_cause,                                                                           \
    "The service waits for a protocol connscope did not try (a database's binary handshake, a "   \
    "custom protocol), or a proxy or load balancer holds the connection open for a backend that " \
    "is gone. It is up: the handshake completed.")                                                \
  X(c_app_silent_fix,                                                                             \
    "Name its protocol (connscope doctor SCHEME://{endpoint}, or --proto NAME); on the server, "  \
    "ss -ltnp 'sport = :{port}' shows which process listens.")                                    \
  X(c_app_identified_tls_summary,                                                                 \
    "{endpoint} speaks TLS ({version}, certificate {subject}): use https://{endpoint}/ or --tls")  \
  X(c_app_identified_http_summary, "{endpoint} speaks HTTP: use http://{endpoint}/")               \
  X(c_net_some_addresses_fail_summary,                                                            \
    "{name}: {failed} of {total} addresses fail, {address} ({family}): {failure}")                 \
  X(c_net_some_addresses_fail_cause,                                                              \
    "The name resolves to several addresses and not all of them work. Clients that try the "      \
    "failing one first ({who}) fail or wait for a timeout; browsers hide it with Happy Eyeballs, " \
    "many libraries and command-line tools do not.")                                             \
  X(c_net_some_addresses_fail_fix,                                                                \
    "Serve on {address} too (listen on both families, open its firewall) or remove its {record} " \
    "record from DNS; connscope doctor {flag} {name}:{port} tests that family alone.")            \
  X(doctor_host_events_title, "What this host's kernel did with the doctor's packets")          \
  X(doctor_host_events_off, "this host's kernel events were not watched: {}")

// Plural messages: X(id, count, English singular, English plural) (text.h).
#define CONNSCOPE_DOCTOR_PLURALS(X)                                                               \
  X(c_http_no_final_response_summary, interim,                                                    \
    "{endpoint} sent {interim} interim response (HTTP {first_status}) and no final one within {timeout}", \
    "{endpoint} sent {interim} interim responses (HTTP {first_status}) and no final one within {timeout}")
// clang-format on
