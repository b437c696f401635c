#pragma once
// The doctor's stage runners that its parts share (doctor.cpp walks the stages, doctor_identify.cpp
// finds out what a service with no known protocol speaks). Internal to src/probe.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "probe/doctor.h"
#include "probe/dns.h"
#include "probe/reach.h"
#include "probe/talk.h"
#include "probe/tcp_connect.h"
#include "probe/tls_probe.h"
#include "probe/trace.h"

namespace connscope::probe {

TlsOptions secure_options(const DoctorOptions& options);
TalkOptions talk_stage_options(const DoctorOptions& options);

// The secure stage, the client context included.
boost::asio::awaitable<TlsResult> run_secure(boost::asio::ip::tcp::socket socket, const DoctorOptions& options);
// The talk stage over the TLS stream when there is one, else over the plain socket.
boost::asio::awaitable<TalkResult> run_talk(boost::asio::ip::tcp::socket* plain, TlsStream* tls,
                                            const DoctorOptions& options);

void set_stage(DoctorReport& report, StageId id, StageStatus status, Clock::duration d);

// The close stage on `socket` (the TCP socket, also under TLS), unless the peer already closed
// during the talk or the talk failed.
boost::asio::awaitable<void> run_close(boost::asio::ip::tcp::socket& socket, const DoctorOptions& options,
                                       DoctorReport& report);

// The talk (and, for TLS, the secure) stage of a target with no scheme on a port with no known
// protocol (DoctorOptions::identify): the greeting first, then a TLS ClientHello and an HTTP
// request on fresh connections to `remote`. Sets the stages it ran, report.identified, and the
// close stage where a connection is left to close.
boost::asio::awaitable<void> identify_and_talk(boost::asio::any_io_executor ex, Endpoint remote,
                                               boost::asio::ip::tcp::socket socket,
                                               const DoctorOptions& options, DoctorReport& report);

}  // namespace connscope::probe
