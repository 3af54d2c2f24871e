// A FIX 4.4 initiator built on QuickFIX (the Debian package libquickfix-dev): the
// real FIX engine that fix/tests/quickfix.rs points at the acceptor. It logs on,
// does what its mode says, logs out, and prints one line per application message
// and per session event it saw, for the test to check. Exit status 0: the mode's
// steps all happened; 2: something did not happen in time; 1: bad arguments.
//
// usage: initiator HOST PORT STORE_DIR MODE [COUNT]
//   orders N  send N NewOrderSingle and wait for N application messages back,
//             then stay logged on for three heartbeat intervals
//   resume    log on with the stored sequence numbers (the test lowers the
//             incoming one first) and wait for what the acceptor resends
//   reset     log on with ResetSeqNumFlag (141=Y) and send one order
//   trade B   against the engine, with numeric ClOrdIDs from B: an order that
//             rests (B+1), one for an account the login does not own (B+2), a
//             cancel of B+1 (request B+3), an order at 1499.50 (B+4) and its replace to 200
//             shares at 1499.00 (request B+5); waits for the five reports
#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/FileStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/SocketInitiator.h>
#include <quickfix/fix44/NewOrderSingle.h>
#include <quickfix/fix44/OrderCancelReplaceRequest.h>
#include <quickfix/fix44/OrderCancelRequest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace {

std::mutex print_lock;

void say(const std::string& line) {
  std::lock_guard<std::mutex> guard(print_lock);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string field(const FIX::FieldMap& map, int tag) {
  return map.isSetField(tag) ? map.getField(tag) : std::string("-");
}

class App : public FIX::Application {
 public:
  std::atomic<int> logons{0};
  std::atomic<int> logouts{0};
  std::atomic<int> app_messages{0};
  std::atomic<int> poss_dups{0};
  std::atomic<int> gap_fills{0};
  std::atomic<int> heartbeats{0};
  std::atomic<int> test_requests{0};
  FIX::SessionID session;

  void onCreate(const FIX::SessionID& id) override { session = id; }
  void onLogon(const FIX::SessionID&) override {
    say("logon");
    ++logons;
  }
  void onLogout(const FIX::SessionID&) override {
    say("logout");
    ++logouts;
  }
  void toAdmin(FIX::Message& message, const FIX::SessionID&) override {
    if (field(message.getHeader(), 35) == "A") {
      message.setField(553, "alice");
      message.setField(554, "s3cret");
    }
  }
  void toApp(FIX::Message&, const FIX::SessionID&) throw(FIX::DoNotSend) override {}
  void fromAdmin(const FIX::Message& message, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::RejectLogon) override {
    const std::string type = field(message.getHeader(), 35);
    if (type == "4") {
      say("sequence-reset gap-fill=" + field(message, 123) + " new=" + field(message, 36) +
          " seq=" + field(message.getHeader(), 34));
      if (field(message, 123) == "Y") ++gap_fills;
    } else if (type == "0") {
      ++heartbeats;
    } else if (type == "1") {
      ++test_requests;
    } else if (type == "3" || type == "5") {
      say("admin " + type + " text=" + field(message, 58));
    }
  }
  void fromApp(const FIX::Message& message, const FIX::SessionID&)
      throw(FIX::FieldNotFound, FIX::IncorrectDataFormat, FIX::IncorrectTagValue,
            FIX::UnsupportedMessageType) override {
    const std::string poss_dup = field(message.getHeader(), 43);
    say("app " + field(message.getHeader(), 35) + " clordid=" + field(message, 11) +
        " seq=" + field(message.getHeader(), 34) + " possdup=" + poss_dup +
        " origsendingtime=" + (message.getHeader().isSetField(122) ? "set" : "-") +
        " exectype=" + field(message, 150) + " ordstatus=" + field(message, 39) +
        " code=" + field(message, 5005));
    ++app_messages;
    if (poss_dup == "Y") ++poss_dups;
  }
};

bool wait_for(const std::atomic<int>& counter, int at_least, int seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (counter.load() < at_least) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void send_order(const FIX::SessionID& session, const std::string& cl_ord_id,
                const std::string& account, double price = 1500.00) {
  FIX44::NewOrderSingle order(FIX::ClOrdID(cl_ord_id), FIX::Side(FIX::Side_BUY),
                              FIX::TransactTime(), FIX::OrdType(FIX::OrdType_LIMIT));
  order.set(FIX::Account(account));
  order.set(FIX::Symbol("600519"));
  order.set(FIX::SecurityExchange("XSHG"));
  order.set(FIX::OrderQty(100));
  order.set(FIX::Price(price));
  order.set(FIX::TimeInForce(FIX::TimeInForce_DAY));
  FIX::Session::sendToTarget(order, session);
}

void send_order(const FIX::SessionID& session, int n) {
  send_order(session, "QF" + std::to_string(n), "A001");
}

void send_cancel(const FIX::SessionID& session, const std::string& cl_ord_id,
                 const std::string& orig) {
  FIX44::OrderCancelRequest cancel(FIX::OrigClOrdID(orig), FIX::ClOrdID(cl_ord_id),
                                   FIX::Side(FIX::Side_BUY), FIX::TransactTime());
  cancel.set(FIX::Account("A001"));
  cancel.set(FIX::Symbol("600519"));
  cancel.set(FIX::SecurityExchange("XSHG"));
  cancel.set(FIX::OrderQty(100));
  FIX::Session::sendToTarget(cancel, session);
}

void send_replace(const FIX::SessionID& session, const std::string& cl_ord_id,
                  const std::string& orig) {
  FIX44::OrderCancelReplaceRequest replace(FIX::OrigClOrdID(orig), FIX::ClOrdID(cl_ord_id),
                                           FIX::Side(FIX::Side_BUY), FIX::TransactTime(),
                                           FIX::OrdType(FIX::OrdType_LIMIT));
  replace.set(FIX::Account("A001"));
  replace.set(FIX::Symbol("600519"));
  replace.set(FIX::SecurityExchange("XSHG"));
  replace.set(FIX::OrderQty(200));
  replace.set(FIX::Price(1499.00));
  FIX::Session::sendToTarget(replace, session);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s HOST PORT STORE_DIR orders N|resume|reset\n", argv[0]);
    return 1;
  }
  const std::string host = argv[1], port = argv[2], store = argv[3], mode = argv[4];
  const int count = argc > 5 ? std::atoi(argv[5]) : 1;
  std::stringstream settings_text;
  settings_text << "[DEFAULT]\n"
                << "ConnectionType=initiator\n"
                << "HeartBtInt=1\n"
                << "ReconnectInterval=60\n"
                << "FileStorePath=" << store << "\n"
                << "FileLogPath=" << store << "/log\n"
                << "StartTime=00:00:00\nEndTime=00:00:00\n"
                << "UseDataDictionary=N\n"
                << "ResetOnLogon=" << (mode == "reset" ? "Y" : "N") << "\n"
                << "[SESSION]\n"
                << "BeginString=FIX.4.4\nSenderCompID=CLIENT\nTargetCompID=BW\n"
                << "SocketConnectHost=" << host << "\nSocketConnectPort=" << port << "\n";
  FIX::SessionSettings settings(settings_text);
  App app;
  FIX::FileStoreFactory store_factory(settings);
  FIX::FileLogFactory log_factory(settings);
  FIX::SocketInitiator initiator(app, store_factory, settings, log_factory);
  initiator.start();
  int status = 0;
  if (!wait_for(app.logons, 1, 10)) {
    say("error: no logon");
    status = 2;
  } else if (mode == "orders" || mode == "reset") {
    const int n = mode == "reset" ? 1 : count;
    for (int i = 1; i <= n; ++i) send_order(app.session, i);
    if (!wait_for(app.app_messages, n, 10)) {
      say("error: " + std::to_string(app.app_messages.load()) + " of " + std::to_string(n) +
          " application messages came back");
      status = 2;
    }
    // Three heartbeat intervals of silence from the application: heartbeats flow.
    std::this_thread::sleep_for(std::chrono::milliseconds(3300));
  } else if (mode == "trade") {
    const long base = count;
    auto id = [base](int k) { return std::to_string(base + k); };
    send_order(app.session, id(1), "A001");
    send_order(app.session, id(2), "B001");
    bool ok = wait_for(app.app_messages, 2, 10);
    send_cancel(app.session, id(3), id(1));
    send_order(app.session, id(4), "A001", 1499.50);  // not a duplicate of B+1
    ok = ok && wait_for(app.app_messages, 4, 10);
    send_replace(app.session, id(5), id(4));
    ok = ok && wait_for(app.app_messages, 5, 10);
    if (!ok) {
      say("error: " + std::to_string(app.app_messages.load()) + " of 5 reports came back");
      status = 2;
    }
  } else if (mode == "resume") {
    // The acceptor's Logon carries a MsgSeqNum above what the store expects: the
    // engine asks for the gap on its own, and the resend arrives.
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  FIX::Session* session = FIX::Session::lookupSession(app.session);
  if (session != nullptr) {
    say("expected-target-seq " + std::to_string(session->getExpectedTargetNum()) +
        " expected-sender-seq " + std::to_string(session->getExpectedSenderNum()));
  }
  initiator.stop();  // sends Logout and waits for the acceptor's answer
  say("heartbeats " + std::to_string(app.heartbeats.load()) + " test-requests " +
      std::to_string(app.test_requests.load()) + " gap-fills " +
      std::to_string(app.gap_fills.load()) + " poss-dups " + std::to_string(app.poss_dups.load()));
  if (app.logouts.load() < 1) {
    say("error: no logout");
    status = 2;
  }
  return status;
}
