//+------------------------------------------------------------------+
//| RiskGuardBridge.mq5                                              |
//| The riskguard bridge Expert Advisor: reports the account to the  |
//| riskguard agent and executes its protective commands.            |
//|                                                                  |
//| Protocol: docs/protocol.md (version 1). Transport: ZeroMQ PUSH   |
//| (to the agent's base port) and PULL (from base port + 1) over    |
//| tcp://127.0.0.1, PLAIN client, user "riskguard", password = the  |
//| per-launch token (input InpToken).                               |
//|                                                                  |
//| Needs libzmq.dll (4.3.x, Windows x64) in MQL5/Libraries, the    |
//| binding MQL5/Include/RiskGuard/Zmq.mqh (riskguard's own, in this |
//| repository) and "Allow DLL imports". See mql5/README.md.         |
//+------------------------------------------------------------------+
#property copyright "riskguard"
#property link      "https://github.com/riskguard"
#property version   "1.20"
#property description "riskguard bridge: account snapshots out, lock/close commands in (ZeroMQ, PLAIN)."

#include <RiskGuard/Zmq.mqh>

//--- inputs (written per launch by the agent into MQL5/Presets/riskguard-<port>.set)
input int    InpPort        = 5555; // Agent base port (PUSH to it, PULL from port+1)
input string InpToken       = "";   // PLAIN password of this launch
input int    InpTimerMs     = 250;  // Timer period (ms): how often changes are looked for
input int    InpHeartbeatMs = 1000; // Heartbeat when nothing changed (ms)

//--- protocol constants
#define RG_PROTOCOL        1
#define RG_EA_VERSION      "1.2.0"
#define RG_USERNAME        "riskguard"
#define RG_MAX_MESSAGE     1048576
#define RG_ACK_CACHE       256
#define RG_MAX_ATTEMPTS    3        // attempts per ticket (a switch of filling mode is not one)
#define RG_DEVIATION       50       // points of slippage accepted when closing
#define RG_HISTORY_REFRESH 5000     // ms between history refreshes without trade events
#define RG_CLOSE_COMMENT   "riskguard close"
#define RG_SETTLE_MS       300      // ms to wait for a working close order before deleting it
#define RG_POLL_MS         50
#define RG_TOUCH_MS        3600000  // rewrite the lock variables hourly (they expire after 4 weeks unused)

//--- lock enforcement backoff per ticket (ms)
#define RG_BACKOFF_1       1000
#define RG_BACKOFF_2       5000
#define RG_BACKOFF_MAX     30000

//--- one bridge per terminal: temporary terminal global variables (gone when the terminal exits)
#define RG_OWNER_KEY       "RG_BRIDGE_OWNER"        // id of the running bridge, 0 = none
#define RG_OWNER_TOKEN_KEY "RG_BRIDGE_OWNER_TOKEN"  // hash of its InpToken
#define RG_OWNER_BEAT_KEY  "RG_BRIDGE_OWNER_BEAT"   // TimeLocal() of its last timer event
#define RG_OWNER_STALE_S   60                       // an owner silent this long is dead

//--- trade server return codes (also predefined as TRADE_RETCODE_*; spelled out for clarity)
#define RC_NONE              0
#define RC_REQUOTE           10004
#define RC_PLACED            10008
#define RC_DONE              10009
#define RC_DONE_PARTIAL      10010
#define RC_INVALID          10013
#define RC_INVALID_VOLUME    10014
#define RC_MARKET_CLOSED     10018
#define RC_PRICE_CHANGED     10020
#define RC_PRICE_OFF         10021
#define RC_TOO_MANY_REQUESTS 10024
#define RC_CLIENT_DISABLES_AT 10027
#define RC_LOCKED            10028
#define RC_INVALID_FILL      10030
#define RC_POSITION_CLOSED   10036
#define RC_FIFO_CLOSE        10045

#define RG_MARK_SETTLE_MS  5000     // connected this long before a missing lock mark is taken

//--- ZeroMQ handles (C pointers, see Zmq.mqh), kept across OnDeinit/OnInit on a chart
//--- symbol/period change. Created in OnInit, never before: a global object that called the
//--- DLL in its constructor would run before OnInit, and with DLL imports disabled the terminal
//--- would stop the program before OnInit could say why.
long   g_context = 0;
long   g_push    = 0;
long   g_pull    = 0;
uchar  g_rx[];                  // receive buffer: RG_MAX_MESSAGE bytes, allocated once

//--- session state
long   g_seq          = 0;      // seq of the last snapshot sent in this session
string g_lastBody     = "";     // snapshot body last sent (change detection)
ulong  g_lastSentMs   = 0;      // GetTickCount64() of the last message sent
bool   g_needHello    = true;   // send hello before anything else
bool   g_historyDirty = true;   // recompute realized P/L and position commissions
ulong  g_historyAtMs  = 0;
bool   g_snapshotSent = false;  // a snapshot went out during the current timer event

//--- the one bridge of this terminal
double g_ownerId      = 0;      // this program instance's id in RG_OWNER_KEY
ulong  g_beatAtMs     = 0;

//--- account and lock mode (mirrored in terminal global variables, see LockKey())
long   g_login       = -1;      // ACCOUNT_LOGIN the lock state was loaded for (0 = not logged in)
bool   g_locked      = false;
double g_lockedUntil = 0;       // UTC seconds, 0 = until unlocked
double g_lockTicket  = 0;       // highest position/order ticket when the lock began, -1 = unknown
ulong  g_touchAtMs   = 0;       // GetTickCount64() of the last write of the lock variables

//--- lock enforcement: per-ticket backoff (orders and positions share one ticket sequence)
ulong  g_boTicket[];
int    g_boFails[];
ulong  g_boNextMs[];

//--- lock enforcement on netting accounts: volume added while locked to an older position
ulong  g_redDeal[];             // deal that added it
string g_redSymbol[];
long   g_redSide[];             // POSITION_TYPE the position had when the volume was added
double g_redVolume[];           // lots still to take off
int    g_redFails[];
ulong  g_redNextMs[];
ulong  g_redSinceMs[];          // when it was noted (the position may lag the deal briefly)

//--- close orders sent by the EA that may still be working (RETURN remainders, PLACED)
ulong  g_closeOrders[];
string g_closeSymbols[];

//--- positions closed whole during the current timer or trade event: a later step of the same
//--- event (ReadCommands, then EnforceLock) may still see them in the position list
ulong  g_closedNow[];

//--- idempotency: last executed command ids and their acks
string g_ackIds[];
string g_ackJson[];
int    g_ackNext = 0;

//--- cached history figures
double g_realProfit = 0, g_realSwap = 0, g_realCommission = 0, g_realFee = 0, g_balanceOps = 0;
int    g_realDeals  = 0;
long   g_dayStart   = 0;        // server seconds
ulong  g_commTickets[];         // position identifiers ...
double g_commValues[];          // ... and their commission so far

//--- one per-ticket result of a trading command
struct TicketResult
  {
   ulong             ticket;
   bool              ok;
   int               retcode;
   string            message;
   double            volume;
   double            price;
   int               attempts;          // requests that count (a filling-mode switch does not)
   string            filling;           // filling mode of the last deal request: fok/ioc/return
  };

//+------------------------------------------------------------------+
//| Start: one bridge per terminal, restore lock mode, connect, say  |
//| hello (once logged in), start the timer.                         |
//+------------------------------------------------------------------+
int OnInit()
  {
   //--- first, before any libzmq call: with "Allow DLL imports" off the terminal would stop
   //--- the program at its first DLL call with a generic message
   if(MQLInfoInteger(MQL_DLLS_ALLOWED)==0)
     {
      Print("riskguard: DLL imports are not allowed for this EA; tick \"Allow DLL imports\" "+
            "(riskguard's startup ini sets [Experts] AllowDllImport=1). The bridge cannot run.");
      return(INIT_FAILED);
     }
   if(StringLen(InpToken)==0)
     {
      Print("riskguard: InpToken is empty; start the EA through riskguard (preset riskguard-<port>.set)");
      return(INIT_PARAMETERS_INCORRECT);
     }
   if(InpPort<1 || InpPort>65534)
     {
      PrintFormat("riskguard: InpPort %d is out of range", InpPort);
      return(INIT_PARAMETERS_INCORRECT);
     }
   if(g_ownerId==0)
      g_ownerId=NewOwnerId();
   if(!ClaimSingleton())
     {
      Print("riskguard: another RiskGuardBridge already runs in this terminal; this copy stops");
      ExpertRemove();
      return(INIT_FAILED);
     }
   ArrayResize(g_ackIds,RG_ACK_CACHE);
   ArrayResize(g_ackJson,RG_ACK_CACHE);
   SyncAccount();                            // loads the lock of the logged-in account (if any)
   if(g_push==0 || g_pull==0)
     {
      if(!Connect())
        {
         Disconnect();
         return(INIT_FAILED);
        }
     }
   g_needHello=true;
   g_historyDirty=true;
   if(!EventSetMillisecondTimer(MathMax(InpTimerMs,10)))
     {
      Print("riskguard: cannot start the timer");
      return(INIT_FAILED);
     }
   SendHello();                              // waits for the login when there is none yet
   return(INIT_SUCCEEDED);
  }

//+------------------------------------------------------------------+
//| Stop: the sockets are closed only when the EA really goes away.  |
//| A symbol/period change re-runs OnInit in the same program        |
//| instance, so the connection is kept and a new hello is sent.     |
//+------------------------------------------------------------------+
void OnDeinit(const int reason)
  {
   EventKillTimer();
   if(reason==REASON_CHARTCHANGE)
      return;
   // REASON_REMOVE, REASON_CLOSE, REASON_PROGRAM, REASON_RECOMPILE, REASON_PARAMETERS,
   // REASON_ACCOUNT, REASON_TEMPLATE, REASON_INITFAILED, REASON_CHARTCLOSE: unload cleanly.
   Disconnect();
   ReleaseSingleton();                       // OnInit claims it again when the program stays
  }

//+------------------------------------------------------------------+
//| Every tick of the timer: commands, lock enforcement, reporting.  |
//+------------------------------------------------------------------+
void OnTimer()
  {
   g_snapshotSent=false;
   if(!StillOwner())
     {
      Print("riskguard: another RiskGuardBridge took over this terminal; this copy stops");
      ExpertRemove();
      return;
     }
   if(!SyncAccount())
      return;                                // not logged in: nothing to report or enforce
   SyncLockVars();
   if(g_push==0 || g_pull==0)
      return;
   ArrayResize(g_closedNow,0);               // one timer event: never the same close twice
   if(g_needHello)
      SendHello();
   ReadCommands();
   CheckLockExpiry();
   if(g_locked)
      EnforceLock();
   Report(false);
  }

//+------------------------------------------------------------------+
//| Trade events: enforce the lock at once; the snapshot waits for   |
//| the next timer event (at most one snapshot per timer period).    |
//+------------------------------------------------------------------+
void OnTradeTransaction(const MqlTradeTransaction &trans,
                        const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   if(trans.type==TRADE_TRANSACTION_DEAL_ADD || trans.type==TRADE_TRANSACTION_HISTORY_ADD)
      g_historyDirty=true;
   if(g_ownerId==0 || GlobalVariableGet(RG_OWNER_KEY)!=g_ownerId)
      return;                                // a copy about to be removed never trades
   if(!SyncAccount() || !g_locked)
      return;
   ArrayResize(g_closedNow,0);
   if(trans.type==TRADE_TRANSACTION_DEAL_ADD)
      NoteDealWhileLocked(trans);
   if(trans.type==TRADE_TRANSACTION_DEAL_ADD || trans.type==TRADE_TRANSACTION_ORDER_ADD)
      EnforceLock();
  }

//+------------------------------------------------------------------+
//| ZeroMQ: connect PUSH to port and PULL to port+1 as PLAIN client. |
//| One context per program; sockets and context live until the EA  |
//| really unloads (Disconnect).                                     |
//+------------------------------------------------------------------+
bool Connect()
  {
   if(g_context==0)
     {
      g_context=zmq_ctx_new();
      if(g_context==0)
        {
         Print("riskguard: cannot create the ZeroMQ context (is MQL5\\Libraries\\libzmq.dll a 64-bit libzmq 4.x?)");
         return(false);
        }
      PrintFormat("riskguard: libzmq %s loaded",ZmqVersion());
     }
   if(ArraySize(g_rx)!=RG_MAX_MESSAGE)
      ArrayResize(g_rx,RG_MAX_MESSAGE);
   g_push=zmq_socket(g_context,ZMQ_PUSH);
   g_pull=zmq_socket(g_context,ZMQ_PULL);
   if(g_push==0 || g_pull==0)
     {
      Print("riskguard: cannot create ZeroMQ sockets: "+ZmqLastError());
      return(false);
     }
   bool ok=true;
   ok=ok && SetupSocket(g_push);
   ok=ok && SetupSocket(g_pull);
   // Only queue messages on a completed connection: while the agent is away a send fails,
   // which tells us to say hello again once it is back (docs/protocol.md section 4.1).
   ok=ok && ZmqSetInt(g_push,ZMQ_IMMEDIATE,1);
   ok=ok && ZmqSetInt(g_push,ZMQ_SNDHWM,100);
   ok=ok && ZmqConnect(g_push,StringFormat("tcp://127.0.0.1:%d",InpPort));
   ok=ok && ZmqConnect(g_pull,StringFormat("tcp://127.0.0.1:%d",InpPort+1));
   if(!ok)
      Print("riskguard: cannot configure or connect the ZeroMQ sockets: "+ZmqLastError());
   return(ok);
  }

bool SetupSocket(const long socket)
  {
   bool ok=true;
   ok=ok && ZmqSetText(socket,ZMQ_PLAIN_USERNAME,RG_USERNAME);
   ok=ok && ZmqSetText(socket,ZMQ_PLAIN_PASSWORD,InpToken);     // never printed
   ok=ok && ZmqSetInt(socket,ZMQ_LINGER,0);                     // close never waits
   ok=ok && ZmqSetInt64(socket,ZMQ_MAXMSGSIZE,RG_MAX_MESSAGE);  // int64_t option
   ok=ok && ZmqSetInt(socket,ZMQ_RECONNECT_IVL,100);            // first retry after 100 ms ...
   ok=ok && ZmqSetInt(socket,ZMQ_RECONNECT_IVL_MAX,2000);       // ... backing off to 2 s
   return(ok);
  }

//--- closes both sockets (linger 0: nothing queued is kept) and then the context
void Disconnect()
  {
   if(g_push!=0) { zmq_close(g_push); g_push=0; }
   if(g_pull!=0) { zmq_close(g_pull); g_pull=0; }
   if(g_context!=0)
     {
      if(zmq_ctx_term(g_context)!=0)
         Print("riskguard: zmq_ctx_term failed: "+ZmqLastError());
      g_context=0;
     }
  }

//+------------------------------------------------------------------+
//| Account: the lock state belongs to one login. On a fresh         |
//| portable start ACCOUNT_LOGIN is 0 until the terminal has logged  |
//| in; the lock is (re)loaded whenever the login changes.           |
//| Returns true when logged in.                                     |
//+------------------------------------------------------------------+
bool SyncAccount()
  {
   long login=AccountInfoInteger(ACCOUNT_LOGIN);
   if(login<0)
      login=0;
   if(login!=g_login)
     {
      if(g_login>0)
         PrintFormat("riskguard: account changed from %I64d to %I64d",g_login,login);
      g_login=login;
      LoadLock();
      ArrayResize(g_boTicket,0); ArrayResize(g_boFails,0); ArrayResize(g_boNextMs,0);
      ClearReductions();
      g_needHello=true;                      // the agent must see the new login in a hello
      g_lastBody="";
      g_historyDirty=true;
     }
   return(g_login>0);
  }

bool LoggedIn()
  {
   return(g_login>0 && AccountInfoInteger(ACCOUNT_LOGIN)==g_login);
  }

//+------------------------------------------------------------------+
//| Sending                                                          |
//+------------------------------------------------------------------+
bool Send(const string json)
  {
   if(g_push==0)
      return(false);
   if(!ZmqSendText(g_push,json))           // UTF-8, no terminating zero, never blocks
     {
      g_needHello=true;                    // agent away: new session when it is back
      return(false);
     }
   g_lastSentMs=GetTickCount64();
   return(true);
  }

void SendHello()
  {
   if(!LoggedIn())
      return;                                // not logged in yet: hello on a later timer event
   string json="{\"type\":\"hello\",\"protocol\":"+IntegerToString(RG_PROTOCOL)+
               ",\"ea_version\":"+JStr(RG_EA_VERSION)+
               ",\"terminal_build\":"+IntegerToString(TerminalInfoInteger(TERMINAL_BUILD))+
               ",\"login\":"+IntegerToString(g_login)+
               ",\"server\":"+JStr(AccountInfoString(ACCOUNT_SERVER))+
               ",\"locked\":"+JBool(g_locked)+
               TimesJson()+
               ",\"heartbeat_ms\":"+IntegerToString(InpHeartbeatMs)+
               ",\"timer_ms\":"+IntegerToString(InpTimerMs)+
               ",\"connected\":"+JBool(TerminalInfoInteger(TERMINAL_CONNECTED)!=0)+"}";
   if(Send(json))
     {
      g_needHello=false;
      g_seq=0;
      g_lastBody="";
      Report(true);
     }
  }

string TimesJson()
  {
   return(",\"server_time\":"+IntegerToString((long)TimeTradeServer()*1000)+
          ",\"utc_time\":"+IntegerToString((long)TimeGMT()*1000));
  }

//+------------------------------------------------------------------+
//| Snapshot when something changed, heartbeat when nothing did.     |
//| At most one snapshot per timer event; force = the first snapshot |
//| of a new session (right after hello).                            |
//+------------------------------------------------------------------+
void Report(const bool force)
  {
   if(g_needHello || !LoggedIn())
      return;
   if(g_snapshotSent && !force)
      return;                                // the next timer event reports the rest
   RefreshHistory(false);
   string body;
   bool complete=SnapshotBody(body);         // false while MT5 has no account currency yet
   if(complete && (force || body!=g_lastBody))
     {
      string json="{\"type\":\"snapshot\",\"seq\":"+IntegerToString(g_seq+1)+TimesJson()+","+body+"}";
      if(StringLen(json)*3>RG_MAX_MESSAGE)
         Print("riskguard: snapshot may exceed the 1 MiB limit");
      if(Send(json))
        {
         g_seq++;
         g_lastBody=body;
         g_snapshotSent=true;
        }
      return;
     }
   if(GetTickCount64()-g_lastSentMs>=(ulong)InpHeartbeatMs)
     {
      Send("{\"type\":\"heartbeat\""+TimesJson()+",\"seq\":"+IntegerToString(g_seq)+
           ",\"locked\":"+JBool(g_locked)+
           ",\"connected\":"+JBool(TerminalInfoInteger(TERMINAL_CONNECTED)!=0)+"}");
     }
  }

//--- decimals of the account currency (0 for JPY accounts, 2 for most)
int MoneyDigits()
  {
   long digits=AccountInfoInteger(ACCOUNT_CURRENCY_DIGITS);
   if(digits<0 || digits>8)
      return(2);
   return((int)digits);
  }

bool SnapshotBody(string &json)
  {
   json="";
   string currency=AccountInfoString(ACCOUNT_CURRENCY);
   if(currency=="")
      return(false);                         // never a snapshot without a currency
   int money=MoneyDigits();
   string symbols[];
   json="\"account\":"+AccountJson(currency,money);
   //--- positions
   json+=",\"positions\":[";
   int total=PositionsTotal();
   bool first=true;
   for(int i=0;i<total;i++)
     {
      ulong ticket=PositionGetTicket(i);
      if(ticket==0)
         continue;
      string symbol=PositionGetString(POSITION_SYMBOL);
      AddUnique(symbols,symbol);
      int digits=(int)SymbolInfoInteger(symbol,SYMBOL_DIGITS);
      long type=PositionGetInteger(POSITION_TYPE);
      ulong identifier=(ulong)PositionGetInteger(POSITION_IDENTIFIER);
      if(!first) json+=",";
      first=false;
      json+="{\"ticket\":"+IntegerToString((long)ticket)+
            ",\"symbol\":"+JStr(symbol)+
            ",\"side\":"+(type==POSITION_TYPE_BUY ? "\"buy\"" : "\"sell\"")+
            ",\"volume\":"+JNum(PositionGetDouble(POSITION_VOLUME),8)+
            ",\"open_price\":"+JNum(PositionGetDouble(POSITION_PRICE_OPEN),digits)+
            ",\"price\":"+JNum(PositionGetDouble(POSITION_PRICE_CURRENT),digits)+
            ",\"sl\":"+JNum(PositionGetDouble(POSITION_SL),digits)+
            ",\"tp\":"+JNum(PositionGetDouble(POSITION_TP),digits)+
            ",\"profit\":"+JNum(PositionGetDouble(POSITION_PROFIT),money)+
            ",\"swap\":"+JNum(PositionGetDouble(POSITION_SWAP),money)+
            ",\"commission\":"+JNum(PositionCommission(identifier),money)+
            ",\"open_time\":"+IntegerToString(PositionGetInteger(POSITION_TIME_MSC))+
            ",\"magic\":"+IntegerToString(PositionGetInteger(POSITION_MAGIC))+
            ",\"comment\":"+JStr(PositionGetString(POSITION_COMMENT))+
            ",\"identifier\":"+IntegerToString((long)identifier)+"}";
     }
   json+="]";
   //--- pending orders
   json+=",\"orders\":[";
   total=OrdersTotal();
   first=true;
   for(int i=0;i<total;i++)
     {
      ulong ticket=OrderGetTicket(i);
      if(ticket==0)
         continue;
      string type=OrderTypeName((ENUM_ORDER_TYPE)OrderGetInteger(ORDER_TYPE));
      if(type=="")
         continue;                          // market orders in flight are not pending orders
      string symbol=OrderGetString(ORDER_SYMBOL);
      AddUnique(symbols,symbol);
      int digits=(int)SymbolInfoInteger(symbol,SYMBOL_DIGITS);
      if(!first) json+=",";
      first=false;
      json+="{\"ticket\":"+IntegerToString((long)ticket)+
            ",\"symbol\":"+JStr(symbol)+
            ",\"type\":"+JStr(type)+
            ",\"volume\":"+JNum(OrderGetDouble(ORDER_VOLUME_CURRENT),8)+
            ",\"price\":"+JNum(OrderGetDouble(ORDER_PRICE_OPEN),digits)+
            ",\"sl\":"+JNum(OrderGetDouble(ORDER_SL),digits)+
            ",\"tp\":"+JNum(OrderGetDouble(ORDER_TP),digits)+
            ",\"setup_time\":"+IntegerToString(OrderGetInteger(ORDER_TIME_SETUP_MSC))+
            ",\"magic\":"+IntegerToString(OrderGetInteger(ORDER_MAGIC))+
            ",\"comment\":"+JStr(OrderGetString(ORDER_COMMENT))+
            ",\"stop_limit\":"+JNum(OrderGetDouble(ORDER_PRICE_STOPLIMIT),digits)+
            ",\"expiration\":"+IntegerToString((long)OrderGetInteger(ORDER_TIME_EXPIRATION)*1000)+"}";
     }
   json+="]";
   //--- contract data of the symbols in use; a symbol is left out while MT5 has no valid
   //--- contract data for it (0 tick value/size or volume step/minimum right after a start)
   json+=",\"symbols\":{";
   first=true;
   for(int i=0;i<ArraySize(symbols);i++)
     {
      string s=symbols[i];
      double tickValue=SymbolInfoDouble(s,SYMBOL_TRADE_TICK_VALUE);
      double tickSize=SymbolInfoDouble(s,SYMBOL_TRADE_TICK_SIZE);
      double volumeStep=SymbolInfoDouble(s,SYMBOL_VOLUME_STEP);
      double volumeMin=SymbolInfoDouble(s,SYMBOL_VOLUME_MIN);
      if(!(tickValue>0) || !(tickSize>0) || !(volumeStep>0) || !(volumeMin>0))
         continue;
      if(!MathIsValidNumber(tickValue) || !MathIsValidNumber(tickSize) ||
         !MathIsValidNumber(volumeStep) || !MathIsValidNumber(volumeMin))
         continue;
      int digits=(int)SymbolInfoInteger(s,SYMBOL_DIGITS);
      if(!first) json+=",";
      first=false;
      json+=JStr(s)+":{\"tick_value\":"+JNum(tickValue,10)+
            ",\"tick_size\":"+JNum(tickSize,10)+
            ",\"volume_step\":"+JNum(volumeStep,8)+
            ",\"volume_min\":"+JNum(volumeMin,8)+
            ",\"trade_allowed\":"+JBool(SymbolTradable(s))+
            OptionalPositive("tick_value_loss",SymbolInfoDouble(s,SYMBOL_TRADE_TICK_VALUE_LOSS),10)+
            OptionalPositive("tick_value_profit",SymbolInfoDouble(s,SYMBOL_TRADE_TICK_VALUE_PROFIT),10)+
            OptionalPositive("contract_size",SymbolInfoDouble(s,SYMBOL_TRADE_CONTRACT_SIZE),8)+
            ",\"digits\":"+IntegerToString(digits)+
            OptionalPositive("volume_max",SymbolInfoDouble(s,SYMBOL_VOLUME_MAX),8)+
            ",\"bid\":"+JNum(MathMax(SymbolInfoDouble(s,SYMBOL_BID),0),digits)+
            ",\"ask\":"+JNum(MathMax(SymbolInfoDouble(s,SYMBOL_ASK),0),digits)+"}";
     }
   json+="}";
   //--- today's realized P/L
   double total_=g_realProfit+g_realSwap+g_realCommission+g_realFee;
   json+=",\"realized_today\":{\"profit\":"+JNum(g_realProfit,money)+
         ",\"swap\":"+JNum(g_realSwap,money)+
         ",\"commission\":"+JNum(g_realCommission,money)+
         ",\"total\":"+JNum(total_,money)+
         ",\"fee\":"+JNum(g_realFee,money)+
         ",\"deals\":"+IntegerToString(g_realDeals)+
         ",\"day_start\":"+IntegerToString(g_dayStart*1000)+
         ",\"balance_ops\":"+JNum(g_balanceOps,money)+"}";
   json+=",\"trade_allowed\":"+JBool(TradingAllowed())+
         ",\"locked\":"+JBool(g_locked)+
         ",\"locked_until\":"+IntegerToString((long)(g_lockedUntil*1000))+
         ",\"connected\":"+JBool(TerminalInfoInteger(TERMINAL_CONNECTED)!=0);
   return(true);
  }

string AccountJson(const string currency,const int money)
  {
   long marginMode=AccountInfoInteger(ACCOUNT_MARGIN_MODE);
   long tradeMode=AccountInfoInteger(ACCOUNT_TRADE_MODE);
   string mode=(tradeMode==ACCOUNT_TRADE_MODE_DEMO ? "demo" : (tradeMode==ACCOUNT_TRADE_MODE_CONTEST ? "contest" : "real"));
   return("{\"login\":"+IntegerToString(g_login)+
          ",\"currency\":"+JStr(currency)+
          ",\"balance\":"+JNum(AccountInfoDouble(ACCOUNT_BALANCE),money)+
          ",\"equity\":"+JNum(AccountInfoDouble(ACCOUNT_EQUITY),money)+
          ",\"margin\":"+JNum(AccountInfoDouble(ACCOUNT_MARGIN),money)+
          ",\"free_margin\":"+JNum(AccountInfoDouble(ACCOUNT_MARGIN_FREE),money)+
          ",\"profit\":"+JNum(AccountInfoDouble(ACCOUNT_PROFIT),money)+
          ",\"credit\":"+JNum(AccountInfoDouble(ACCOUNT_CREDIT),money)+
          ",\"leverage\":"+IntegerToString(MathMax(AccountInfoInteger(ACCOUNT_LEVERAGE),(long)1))+
          ",\"margin_mode\":"+(marginMode==ACCOUNT_MARGIN_MODE_RETAIL_HEDGING ? "\"hedging\"" : "\"netting\"")+
          ",\"margin_level\":"+JNum(MathMax(AccountInfoDouble(ACCOUNT_MARGIN_LEVEL),0),2)+
          ",\"trade_mode\":\""+mode+"\""+
          ",\"name\":"+JStr(AccountInfoString(ACCOUNT_NAME))+"}");
  }

string OrderTypeName(const ENUM_ORDER_TYPE type)
  {
   switch(type)
     {
      case ORDER_TYPE_BUY_LIMIT:       return("buy_limit");
      case ORDER_TYPE_SELL_LIMIT:      return("sell_limit");
      case ORDER_TYPE_BUY_STOP:        return("buy_stop");
      case ORDER_TYPE_SELL_STOP:       return("sell_stop");
      case ORDER_TYPE_BUY_STOP_LIMIT:  return("buy_stop_limit");
      case ORDER_TYPE_SELL_STOP_LIMIT: return("sell_stop_limit");
      default:                         return("");
     }
  }

bool TradingAllowed()
  {
   return(TerminalInfoInteger(TERMINAL_TRADE_ALLOWED)!=0 &&
          MQLInfoInteger(MQL_TRADE_ALLOWED)!=0 &&
          AccountInfoInteger(ACCOUNT_TRADE_ALLOWED)!=0 &&
          AccountInfoInteger(ACCOUNT_TRADE_EXPERT)!=0);
  }

//--- full trade mode and a trade session open now (server time)
bool SymbolTradable(const string symbol)
  {
   if(SymbolInfoInteger(symbol,SYMBOL_TRADE_MODE)!=SYMBOL_TRADE_MODE_FULL)
      return(false);
   datetime now=TimeTradeServer();
   MqlDateTime parts;
   TimeToStruct(now,parts);
   long secondOfDay=(long)now%86400;
   datetime from,to;
   for(uint i=0;SymbolInfoSessionTrade(symbol,(ENUM_DAY_OF_WEEK)parts.day_of_week,i,from,to);i++)
     {
      long f=(long)from%86400, t=(long)to;
      if(t>=86400) t=86400;                 // a session may end at 24:00
      else t=t%86400;
      if(secondOfDay>=f && secondOfDay<t)
         return(true);
     }
   return(false);
  }

//+------------------------------------------------------------------+
//| History: today's realized P/L and each position's commission.    |
//| HistorySelect* are costly: done after trade events and every 5 s.|
//+------------------------------------------------------------------+
void RefreshHistory(const bool force)
  {
   ulong now=GetTickCount64();
   long dayStart=((long)TimeTradeServer()/86400)*86400;
   if(!force && !g_historyDirty && dayStart==g_dayStart && now-g_historyAtMs<RG_HISTORY_REFRESH)
      return;
   g_historyDirty=false;
   g_historyAtMs=now;
   g_dayStart=dayStart;
   g_realProfit=0; g_realSwap=0; g_realCommission=0; g_realFee=0; g_balanceOps=0; g_realDeals=0;
   if(HistorySelect((datetime)dayStart,TimeTradeServer()+86400))
     {
      int deals=HistoryDealsTotal();
      for(int i=0;i<deals;i++)
        {
         ulong deal=HistoryDealGetTicket(i);
         if(deal==0)
            continue;
         long type=HistoryDealGetInteger(deal,DEAL_TYPE);
         double profit=HistoryDealGetDouble(deal,DEAL_PROFIT);
         double swap=HistoryDealGetDouble(deal,DEAL_SWAP);
         double commission=HistoryDealGetDouble(deal,DEAL_COMMISSION);
         double fee=HistoryDealGetDouble(deal,DEAL_FEE);
         if(type==DEAL_TYPE_BUY || type==DEAL_TYPE_SELL)
           {
            g_realProfit+=profit;
            g_realSwap+=swap;
            g_realCommission+=commission;
            g_realFee+=fee;
            g_realDeals++;
           }
         else if(type==DEAL_TYPE_BALANCE || type==DEAL_TYPE_CREDIT ||
                 type==DEAL_TYPE_BONUS || type==DEAL_TYPE_CORRECTION)
            g_balanceOps+=profit;            // money moved in or out: never profit or loss
         else if(type==DEAL_TYPE_COMMISSION || type==DEAL_TYPE_COMMISSION_DAILY ||
                 type==DEAL_TYPE_COMMISSION_MONTHLY || type==DEAL_TYPE_COMMISSION_AGENT_DAILY ||
                 type==DEAL_TYPE_COMMISSION_AGENT_MONTHLY)
            g_realCommission+=profit+commission+fee+swap;   // the amount is in DEAL_PROFIT
         else
            // DEAL_TYPE_CHARGE, DEAL_TYPE_INTEREST, taxes, dividends, cancelled deals and
            // any later type: costs (or income) of trading, never a deposit
            g_realFee+=profit+commission+fee+swap;
        }
     }
   //--- commission of every open position (POSITION_COMMISSION is deprecated: always 0)
   int total=PositionsTotal();
   ArrayResize(g_commTickets,total);
   ArrayResize(g_commValues,total);
   ulong ids[];
   ArrayResize(ids,total);
   for(int i=0;i<total;i++)
     {
      ulong ticket=PositionGetTicket(i);
      ids[i]=(ticket==0 ? 0 : (ulong)PositionGetInteger(POSITION_IDENTIFIER));
     }
   for(int i=0;i<total;i++)
     {
      g_commTickets[i]=ids[i];
      g_commValues[i]=0;
      if(ids[i]==0 || !HistorySelectByPosition((long)ids[i]))
         continue;
      int deals=HistoryDealsTotal();
      for(int d=0;d<deals;d++)
        {
         ulong deal=HistoryDealGetTicket(d);
         if(deal!=0)
            g_commValues[i]+=HistoryDealGetDouble(deal,DEAL_COMMISSION);
        }
     }
  }

double PositionCommission(const ulong identifier)
  {
   for(int i=0;i<ArraySize(g_commTickets);i++)
      if(g_commTickets[i]==identifier)
         return(g_commValues[i]);
   g_historyDirty=true;                      // a new position: known at the next refresh
   return(0);
  }

//+------------------------------------------------------------------+
//| Commands                                                         |
//+------------------------------------------------------------------+
void ReadCommands()
  {
   if(!LoggedIn())
      return;                                // commands wait in the queue until the login is known
   for(int n=0;n<100;n++)                    // bounded per timer event
     {
      int size=zmq_recv(g_pull,g_rx,(ulong)ArraySize(g_rx),ZMQ_DONTWAIT);
      if(size<0)
        {
         int error=zmq_errno();
         if(error!=ZMQ_EAGAIN)               // EAGAIN: nothing waiting
            Print("riskguard: receiving a command failed: "+ZmqErrorText(error));
         return;
        }
      if(ZmqGetInt(g_pull,ZMQ_RCVMORE)==1)
        {
         // Multi-part messages are not part of the protocol: drain and drop them (libzmq
         // delivers all parts of a message at once, so the rest is there already).
         for(int part=0;part<1000;part++)
           {
            if(zmq_recv(g_pull,g_rx,(ulong)ArraySize(g_rx),ZMQ_DONTWAIT)<0)
               break;
            if(ZmqGetInt(g_pull,ZMQ_RCVMORE)!=1)
               break;
           }
         Print("riskguard: dropped a multi-part command");
         continue;
        }
      if(size>ArraySize(g_rx))
        {
         Print("riskguard: dropped an oversized command");   // zmq_recv truncated it
         continue;
        }
      //--- exactly `size` bytes of UTF-8 (never up to a NUL, never the rest of the buffer)
      HandleCommand(size==0 ? "" : CharArrayToString(g_rx,0,size,CP_UTF8));
     }
  }

void HandleCommand(const string text)
  {
   string keys[],values[];
   if(!ParseFlatJson(text,keys,values))
     {
      Print("riskguard: dropped a command that is not a flat JSON object");
      return;
     }
   string id=JsonGet(keys,values,"id");
   string type=JsonGet(keys,values,"type");
   if(id=="" || StringLen(id)>64 || type=="")
     {
      Print("riskguard: dropped a command without id or type");
      return;
     }
   //--- a repeated id: answer again, do not execute again
   for(int i=0;i<RG_ACK_CACHE;i++)
     {
      if(g_ackIds[i]==id)
        {
         string again=g_ackJson[i];
         Send(StringSubstr(again,0,StringLen(again)-1)+",\"duplicate\":true}");
         return;
        }
     }
   string ack="";
   bool helloAfter=false;
   if(type=="ping")
     {
      ack=AckJson(id,true,RC_NONE,"");
      helloAfter=(JsonGet(keys,values,"hello")=="true");
     }
   else if(type=="lock")
     {
      SetLock(true,StringToDouble(JsonGet(keys,values,"until"))/1000.0);
      PrintFormat("riskguard: locked (%s)",JsonGet(keys,values,"reason"));
      ack=AckJson(id,true,RC_NONE,"");
     }
   else if(type=="unlock")
     {
      SetLock(false,0);
      Print("riskguard: unlocked");
      ack=AckJson(id,true,RC_NONE,"");
     }
   else if(type=="cancel_orders")
     {
      TicketResult results[];
      CancelAllOrders(results);
      ack=Summarize(id,results);
     }
   else if(type=="close_position")
     {
      TicketResult results[];
      ArrayResize(results,1);
      //--- a missing, zero, negative or non-numeric ticket is refused: never "ok", and never a
      //--- deal without a named position (on a netting account that could open a new one)
      string text=JsonGet(keys,values,"ticket");
      long ticket=StringToInteger(text);
      if(ticket<=0 || text!=IntegerToString(ticket))
        {
         InitResult(results[0],0);
         results[0].retcode=RC_INVALID;
         results[0].message="close_position needs a position ticket";
        }
      else
         ClosePosition((ulong)ticket,StringToDouble(JsonGet(keys,values,"volume")),results[0]);
      ack=Summarize(id,results);
     }
   else if(type=="close_all")
     {
      TicketResult results[];
      CancelAllOrders(results);              // pending orders first ...
      CloseAllPositions(results);            // ... then positions (largest loss first; FIFO)
      ack=Summarize(id,results);
     }
   else
     {
      PrintFormat("riskguard: dropped a command of unknown type %s",type);
      return;
     }
   g_ackIds[g_ackNext]=id;
   g_ackJson[g_ackNext]=ack;
   g_ackNext=(g_ackNext+1)%RG_ACK_CACHE;
   Send(ack);
   if(helloAfter)
      SendHello();
  }

string AckJson(const string id,const bool ok,const int retcode,const string message)
  {
   return("{\"type\":\"ack\",\"id\":"+JStr(id)+",\"ok\":"+JBool(ok)+",\"retcode\":"+IntegerToString(retcode)+
          (message=="" ? "" : ",\"message\":"+JStr(message))+",\"locked\":"+JBool(g_locked)+"}");
  }

string Summarize(const string id,TicketResult &results[])
  {
   int n=ArraySize(results);
   bool ok=true;
   int retcode=(n==0 ? RC_NONE : RC_DONE);
   string message="";
   string list="";
   for(int i=0;i<n;i++)
     {
      if(!results[i].ok && ok)
        {
         ok=false;
         retcode=results[i].retcode;
         message="ticket "+IntegerToString((long)results[i].ticket)+": "+results[i].message;
        }
      if(i>0) list+=",";
      list+="{\"ticket\":"+IntegerToString((long)results[i].ticket)+
            ",\"ok\":"+JBool(results[i].ok)+
            ",\"retcode\":"+IntegerToString(results[i].retcode)+
            (results[i].message=="" ? "" : ",\"message\":"+JStr(results[i].message))+
            (results[i].volume>0 ? ",\"volume\":"+JNum(results[i].volume,8) : "")+
            (results[i].price>0 ? ",\"price\":"+JNum(results[i].price,10) : "")+
            ",\"attempts\":"+IntegerToString(results[i].attempts)+
            (results[i].filling=="" ? "" : ",\"filling\":"+JStr(results[i].filling))+"}";
     }
   return("{\"type\":\"ack\",\"id\":"+JStr(id)+",\"ok\":"+JBool(ok)+",\"retcode\":"+IntegerToString(retcode)+
          (message=="" ? "" : ",\"message\":"+JStr(message))+
          ",\"results\":["+list+"],\"locked\":"+JBool(g_locked)+"}");
  }


//+------------------------------------------------------------------+
//| Trading                                                          |
//+------------------------------------------------------------------+
void CancelAllOrders(TicketResult &results[])
  {
   ulong tickets[];
   for(int i=OrdersTotal()-1;i>=0;i--)
     {
      ulong ticket=OrderGetTicket(i);
      if(ticket!=0 && OrderTypeName((ENUM_ORDER_TYPE)OrderGetInteger(ORDER_TYPE))!="")
         AppendTicket(tickets,ticket);
     }
   for(int i=0;i<ArraySize(tickets);i++)
     {
      int n=ArraySize(results);
      ArrayResize(results,n+1);
      CancelOrder(tickets[i],results[n]);
     }
  }

void CancelOrder(const ulong ticket,TicketResult &r)
  {
   InitResult(r,ticket);
   if(!OrderSelect(ticket))
     {
      r.ok=true; r.retcode=RC_DONE; r.message="order already gone";
      return;
     }
   r.volume=OrderGetDouble(ORDER_VOLUME_CURRENT);
   while(r.attempts<RG_MAX_ATTEMPTS)
     {
      r.attempts++;
      MqlTradeRequest request;
      MqlTradeResult  result;
      ZeroMemory(request);
      ZeroMemory(result);
      request.action=TRADE_ACTION_REMOVE;
      request.order=ticket;
      bool sent=OrderSend(request,result);
      r.retcode=(int)result.retcode;
      if(sent && (result.retcode==RC_DONE || result.retcode==RC_PLACED))
        {
         r.ok=true;
         return;
        }
      if(!OrderSelect(ticket))                // filled or deleted meanwhile
        {
         r.ok=true; r.retcode=RC_DONE; r.message="order already gone";
         return;
        }
      if(!Retryable(result.retcode) || r.attempts>=RG_MAX_ATTEMPTS)
         break;
      Sleep(result.retcode==RC_TOO_MANY_REQUESTS ? 100 : 20);
     }
   r.ok=false;
   r.message=RetcodeText(r.retcode);
  }

//+------------------------------------------------------------------+
//| Closes every position. Largest loss first, so that what hurts    |
//| most is gone first. On FIFO accounts (ACCOUNT_FIFO_CLOSE) the    |
//| server only closes the oldest position of a symbol, so there the |
//| symbols go largest total loss first and, within a symbol, the    |
//| positions oldest first (POSITION_TIME_MSC, then ticket).         |
//+------------------------------------------------------------------+
void CloseAllPositions(TicketResult &results[])
  {
   bool fifo=(AccountInfoInteger(ACCOUNT_FIFO_CLOSE)!=0);
   ulong tickets[];
   string symbols[];
   double profits[];
   long times[];
   for(int i=0;i<PositionsTotal();i++)
     {
      ulong ticket=PositionGetTicket(i);
      if(ticket==0) continue;
      int n=ArraySize(tickets);
      ArrayResize(tickets,n+1);
      ArrayResize(symbols,n+1);
      ArrayResize(profits,n+1);
      ArrayResize(times,n+1);
      tickets[n]=ticket;
      symbols[n]=PositionGetString(POSITION_SYMBOL);
      profits[n]=PositionGetDouble(POSITION_PROFIT)+PositionGetDouble(POSITION_SWAP);
      times[n]=PositionGetInteger(POSITION_TIME_MSC);
     }
   int n=ArraySize(tickets);
   //--- FIFO: the sort key of a position is its symbol's total profit
   double keys[];
   ArrayResize(keys,n);
   for(int i=0;i<n;i++)
     {
      keys[i]=profits[i];
      if(!fifo) continue;
      keys[i]=0;
      for(int j=0;j<n;j++)
         if(symbols[j]==symbols[i])
            keys[i]+=profits[j];
     }
   for(int i=0;i<n-1;i++)
      for(int j=i+1;j<n;j++)
         if(CloseBefore(fifo,keys[j],symbols[j],times[j],tickets[j],keys[i],symbols[i],times[i],tickets[i]))
           {
            double k=keys[i]; keys[i]=keys[j]; keys[j]=k;
            string s=symbols[i]; symbols[i]=symbols[j]; symbols[j]=s;
            long t=times[i]; times[i]=times[j]; times[j]=t;
            ulong x=tickets[i]; tickets[i]=tickets[j]; tickets[j]=x;
           }
   for(int i=0;i<n;i++)
     {
      int k=ArraySize(results);
      ArrayResize(results,k+1);
      ClosePosition(tickets[i],0,results[k]);
     }
  }

//--- close_all order: is position a to be closed before position b?
bool CloseBefore(const bool fifo,
                 const double keyA,const string symbolA,const long timeA,const ulong ticketA,
                 const double keyB,const string symbolB,const long timeB,const ulong ticketB)
  {
   if(!fifo)
      return(keyA<keyB);                     // largest loss first
   if(keyA!=keyB)
      return(keyA<keyB);                     // the symbol that loses most first
   if(symbolA!=symbolB)
      return(symbolA<symbolB);               // same total: keep a symbol's positions together
   if(timeA!=timeB)
      return(timeA<timeB);                   // oldest first
   return(ticketA<ticketB);
  }

//+------------------------------------------------------------------+
//| Closes `volume` lots of a position (0 = all) with opposite deals.|
//| Every request names the position (request.position = ticket) on  |
//| hedging and netting accounts alike, as MetaQuotes' own           |
//| CTrade::PositionClose does: a position that is already gone then |
//| fails the request instead of an unnamed opposite deal opening a  |
//| reverse position on a netting account.                           |
//| Never closes more than asked: the volume the position keeps is   |
//| fixed first, each attempt sends at most what is left above it,   |
//| and no new deal is sent while a close order of ours is still     |
//| working on the symbol (ORDER_FILLING_RETURN leaves the unfilled  |
//| rest as a live order; an exchange may answer PLACED).            |
//| At most RG_MAX_ATTEMPTS attempts; switching to the next filling  |
//| mode after 10030 is not one (r.attempts counts attempts only).   |
//+------------------------------------------------------------------+
void ClosePosition(const ulong ticket,const double volume,TicketResult &r)
  {
   InitResult(r,ticket);
   if(ClosedNow(ticket) || !PositionSelectByTicket(ticket))
     {
      r.ok=true; r.retcode=RC_POSITION_CLOSED; r.message="position already closed";
      return;
     }
   string symbol=PositionGetString(POSITION_SYMBOL);
   if(!SettleCloseOrders(symbol))
     {
      r.retcode=RC_LOCKED; r.message="an earlier close order on "+symbol+" is still working";
      return;
     }
   if(!PositionSelectByTicket(ticket))        // the earlier close order finished it
     {
      r.ok=true; r.retcode=RC_POSITION_CLOSED; r.message="position already closed";
      return;
     }
   double have=PositionGetDouble(POSITION_VOLUME);
   double step=SymbolInfoDouble(symbol,SYMBOL_VOLUME_STEP);
   double lots=have;
   if(volume>0 && volume<have)
     {
      lots=(step>0 ? MathFloor(volume/step+1e-9)*step : volume);
      lots=NormalizeDouble(lots,8);
      if(lots<SymbolInfoDouble(symbol,SYMBOL_VOLUME_MIN))
        {
         r.retcode=RC_INVALID_VOLUME; r.message="invalid volume "+DoubleToString(volume,8);
         return;
        }
     }
   double keep=NormalizeDouble(have-lots,8);  // what the position keeps when we are done
   double tiny=(step>0 ? step*0.5 : 1e-8);
   bool whole=(keep<tiny);
   ENUM_ORDER_TYPE_FILLING fillings[3];
   int fillingCount=FillingModes(symbol,fillings);
   int filling=0;
   double remaining=lots;
   while(r.attempts<RG_MAX_ATTEMPTS)
     {
      r.attempts++;
      if(!PositionSelectByTicket(ticket))
        {
         r.ok=true; r.retcode=(r.volume>0 ? RC_DONE : RC_POSITION_CLOSED);
         if(r.volume==0) r.message="position already closed";
         if(whole) NoteClosedNow(ticket);
         return;
        }
      //--- never more than what is left above `keep` (the position may lag the last fill:
      //--- then `remaining`, counted from the fills, is the smaller figure)
      double above=NormalizeDouble(PositionGetDouble(POSITION_VOLUME)-keep,8);
      if(above<remaining)
         remaining=(step>0 ? NormalizeDouble(MathFloor(above/step+1e-9)*step,8) : above);
      if(remaining<tiny)
        {
         r.ok=true; r.retcode=RC_DONE;
         return;
        }
      long type=PositionGetInteger(POSITION_TYPE);
      MqlTick tick;
      if(!SymbolInfoTick(symbol,tick))
        {
         r.retcode=RC_PRICE_OFF; Sleep(20); continue;
        }
      MqlTradeRequest request;
      MqlTradeResult  result;
      ZeroMemory(request);
      ZeroMemory(result);
      request.action=TRADE_ACTION_DEAL;
      request.position=ticket;               // always named: see above
      request.symbol=symbol;
      request.volume=remaining;
      request.type=(type==POSITION_TYPE_BUY ? ORDER_TYPE_SELL : ORDER_TYPE_BUY);
      request.price=(type==POSITION_TYPE_BUY ? tick.bid : tick.ask);
      request.deviation=RG_DEVIATION;
      request.type_filling=fillings[filling];
      request.magic=PositionGetInteger(POSITION_MAGIC);
      request.comment=RG_CLOSE_COMMENT;
      r.filling=FillingName(fillings[filling]);
      bool sent=OrderSend(request,result);
      r.retcode=(int)result.retcode;
      if(result.order>0 && (result.retcode==RC_PLACED || result.retcode==RC_DONE_PARTIAL))
         TrackCloseOrder(result.order,symbol);
      if(sent && (result.retcode==RC_DONE || result.retcode==RC_PLACED))
        {
         r.ok=true;
         r.volume+=(result.volume>0 ? result.volume : remaining);
         r.price=result.price;
         if(whole && result.retcode==RC_DONE) NoteClosedNow(ticket);
         return;
        }
      if(result.retcode==RC_DONE_PARTIAL)
        {
         double filled=result.volume;
         if(result.order>0)
           {
            //--- RETURN: the unfilled rest stays as a live order. Wait for it or delete it
            //--- before anything else is sent, then count what it really filled.
            if(!SettleCloseOrders(symbol))
              {
               r.volume+=filled; r.price=result.price;
               r.retcode=RC_LOCKED; r.message="the rest of a partial close is still working";
               return;
              }
            filled=MathMax(filled,OrderFilledVolume(result.order,filled));
           }
         r.volume+=filled;
         r.price=result.price;
         remaining=NormalizeDouble(remaining-filled,8);
         if(remaining<tiny) { r.ok=true; r.retcode=RC_DONE; return; }
         continue;
        }
      if(result.retcode==RC_POSITION_CLOSED)
        {
         r.ok=true; r.message="position already closed";
         if(whole) NoteClosedNow(ticket);
         return;
        }
      if(result.retcode==RC_INVALID_FILL && filling+1<fillingCount)
        {
         filling++;                          // the next mode this symbol allows
         r.attempts--;                       // a switch is not an attempt of its own
         continue;
        }
      if(!Retryable(result.retcode) || r.attempts>=RG_MAX_ATTEMPTS)
         break;
      Sleep(result.retcode==RC_TOO_MANY_REQUESTS ? 100 : 20);
     }
   r.ok=false;
   r.message=RetcodeText(r.retcode);
  }

//--- the position was closed whole earlier in this timer or trade event
bool ClosedNow(const ulong ticket)
  {
   for(int i=0;i<ArraySize(g_closedNow);i++)
      if(g_closedNow[i]==ticket)
         return(true);
   return(false);
  }

void NoteClosedNow(const ulong ticket)
  {
   if(!ClosedNow(ticket))
      AppendTicket(g_closedNow,ticket);
  }

string FillingName(const ENUM_ORDER_TYPE_FILLING filling)
  {
   if(filling==ORDER_FILLING_FOK) return("fok");
   if(filling==ORDER_FILLING_IOC) return("ioc");
   return("return");
  }

//--- remembers a close order that may still be working
void TrackCloseOrder(const ulong order,const string symbol)
  {
   for(int i=0;i<ArraySize(g_closeOrders);i++)
      if(g_closeOrders[i]==order)
         return;
   int n=ArraySize(g_closeOrders);
   ArrayResize(g_closeOrders,n+1);
   ArrayResize(g_closeSymbols,n+1);
   g_closeOrders[n]=order;
   g_closeSymbols[n]=symbol;
  }

//--- live close orders of ours on the symbol; forgets the ones that are finished
int LiveCloseOrders(const string symbol,ulong &live[])
  {
   ArrayResize(live,0);
   for(int i=ArraySize(g_closeOrders)-1;i>=0;i--)
     {
      if(OrderSelect(g_closeOrders[i]))
        {
         if(g_closeSymbols[i]==symbol)
            AppendTicket(live,g_closeOrders[i]);
         continue;
        }
      int last=ArraySize(g_closeOrders)-1;     // finished: drop it
      g_closeOrders[i]=g_closeOrders[last];
      g_closeSymbols[i]=g_closeSymbols[last];
      ArrayResize(g_closeOrders,last);
      ArrayResize(g_closeSymbols,last);
     }
   return(ArraySize(live));
  }

//+------------------------------------------------------------------+
//| Waits up to RG_SETTLE_MS for our close orders on the symbol to   |
//| finish, deletes those still working, waits as long again.        |
//| True when none is left. Bounded: at most about 2 x RG_SETTLE_MS. |
//+------------------------------------------------------------------+
bool SettleCloseOrders(const string symbol)
  {
   ulong live[];
   for(int pass=0;pass<2;pass++)
     {
      ulong start=GetTickCount64();
      while(LiveCloseOrders(symbol,live)>0 && GetTickCount64()-start<RG_SETTLE_MS)
         Sleep(RG_POLL_MS);
      if(ArraySize(live)==0)
         return(true);
      if(pass==1)
         break;
      for(int i=0;i<ArraySize(live);i++)
        {
         MqlTradeRequest request;
         MqlTradeResult  result;
         ZeroMemory(request);
         ZeroMemory(result);
         request.action=TRADE_ACTION_REMOVE;
         request.order=live[i];
         if(!OrderSend(request,result))
            PrintFormat("riskguard: cannot delete the working close order %I64u (retcode %u)",live[i],result.retcode);
        }
     }
   return(LiveCloseOrders(symbol,live)==0);
  }

//--- volume an order filled (initial - current), from the live order or the history
double OrderFilledVolume(const ulong order,const double fallback)
  {
   for(int i=0;i<5;i++)
     {
      if(OrderSelect(order))
         return(OrderGetDouble(ORDER_VOLUME_INITIAL)-OrderGetDouble(ORDER_VOLUME_CURRENT));
      if(HistoryOrderSelect(order))
         return(HistoryOrderGetDouble(order,ORDER_VOLUME_INITIAL)-HistoryOrderGetDouble(order,ORDER_VOLUME_CURRENT));
      Sleep(RG_POLL_MS);                     // not in the history yet
     }
   g_historyDirty=true;
   return(fallback);
  }

//+------------------------------------------------------------------+
//| Filling modes to try for a closing deal, preferred first, from   |
//| the symbol's execution mode (SYMBOL_TRADE_EXEMODE) and filling   |
//| flags (SYMBOL_FILLING_MODE), as the MT5 documentation defines    |
//| them for market orders:                                          |
//|  - Instant and Request execution: FOK only;                      |
//|  - Market execution: FOK and/or IOC as flagged; both (FOK first) |
//|    when the symbol reports neither flag;                         |
//|  - Exchange execution: FOK and/or IOC as flagged, then RETURN    |
//|    (always allowed there).                                       |
//| RETURN is never sent for Instant, Request or Market execution:   |
//| the server refuses it there (10030 INVALID_FILL).                |
//| The same rule: src/mt5/sim/filling.ts, stand_in_ea.mjs.          |
//+------------------------------------------------------------------+
int FillingModes(const string symbol,ENUM_ORDER_TYPE_FILLING &modes[])
  {
   long execution=SymbolInfoInteger(symbol,SYMBOL_TRADE_EXEMODE);
   long allowed=SymbolInfoInteger(symbol,SYMBOL_FILLING_MODE);
   bool fok=((allowed & SYMBOL_FILLING_FOK)!=0);
   bool ioc=((allowed & SYMBOL_FILLING_IOC)!=0);
   int n=0;
   if(execution==SYMBOL_TRADE_EXECUTION_INSTANT || execution==SYMBOL_TRADE_EXECUTION_REQUEST)
     {
      modes[n++]=ORDER_FILLING_FOK;
      return(n);
     }
   if(execution==SYMBOL_TRADE_EXECUTION_EXCHANGE)
     {
      if(fok) modes[n++]=ORDER_FILLING_FOK;
      if(ioc) modes[n++]=ORDER_FILLING_IOC;
      modes[n++]=ORDER_FILLING_RETURN;
      return(n);
     }
   //--- SYMBOL_TRADE_EXECUTION_MARKET (and any later mode: treated the same, no RETURN)
   if(fok) modes[n++]=ORDER_FILLING_FOK;
   if(ioc) modes[n++]=ORDER_FILLING_IOC;
   if(n==0)
     {
      modes[n++]=ORDER_FILLING_FOK;
      modes[n++]=ORDER_FILLING_IOC;
     }
   return(n);
  }

bool Retryable(const uint retcode)
  {
   return(retcode==RC_REQUOTE || retcode==RC_PRICE_CHANGED || retcode==RC_PRICE_OFF ||
          retcode==RC_TOO_MANY_REQUESTS);
  }

string RetcodeText(const int retcode)
  {
   switch(retcode)
     {
      case RC_REQUOTE:            return("requote");
      case RC_MARKET_CLOSED:      return("market closed");
      case RC_PRICE_CHANGED:      return("price changed");
      case RC_PRICE_OFF:          return("no quotes");
      case RC_TOO_MANY_REQUESTS:  return("too many requests");
      case RC_CLIENT_DISABLES_AT: return("algo trading disabled in the terminal");
      case RC_INVALID_FILL:       return("invalid filling mode");
      case RC_INVALID:            return("invalid request");
      case RC_FIFO_CLOSE:         return("FIFO account: close the oldest position of the symbol first");
      default:                    return("retcode "+IntegerToString(retcode));
     }
  }

void InitResult(TicketResult &r,const ulong ticket)
  {
   r.ticket=ticket; r.ok=false; r.retcode=RC_NONE; r.message=""; r.volume=0; r.price=0; r.attempts=0;
   r.filling="";
  }

//+------------------------------------------------------------------+
//| Lock mode, persisted in terminal global variables of the login   |
//| it was loaded for (g_login). The program's memory is the truth   |
//| while it runs; the variables make it survive restarts.           |
//+------------------------------------------------------------------+
string LockKey(const string what)
  {
   return("RG_"+what+"_"+IntegerToString(g_login));
  }

void LoadLock()
  {
   g_locked=false;
   g_lockedUntil=0;
   g_lockTicket=0;
   if(g_login<=0)
      return;                                // not logged in: nothing is known yet
   g_locked=GlobalVariableCheck(LockKey("LOCK")) && GlobalVariableGet(LockKey("LOCK"))>0;
   if(!g_locked)
      return;
   g_lockedUntil=GlobalVariableCheck(LockKey("LOCK_UNTIL")) ? GlobalVariableGet(LockKey("LOCK_UNTIL")) : 0;
   g_lockTicket=GlobalVariableCheck(LockKey("LOCK_TICKET")) ? GlobalVariableGet(LockKey("LOCK_TICKET")) : -1;
   EnsureLockMark();
   PrintFormat("riskguard: account %I64d is locked (restored from the terminal global variables)",g_login);
   CheckLockExpiry();
  }

//+------------------------------------------------------------------+
//| No mark stored (variable deleted, or a lock set by hand): what   |
//| exists then stays (the agent's decision), what comes later is    |
//| closed. The mark is never taken from a position list that may    |
//| still be loading, because a mark of 0 (or too low) would close   |
//| everything opened before the lock: the terminal must have been   |
//| connected for RG_MARK_SETTLE_MS without a break, and the mark is |
//| the highest ticket among open positions, pending orders and the  |
//| account's order history; a funded account must first show at    |
//| least its deposit deal. Until then nothing counts as new.        |
//+------------------------------------------------------------------+
ulong g_connectedSinceMs=0;                  // GetTickCount64() when TERMINAL_CONNECTED began

void EnsureLockMark()
  {
   if(!g_locked || g_lockTicket>=0)
      return;
   if(TerminalInfoInteger(TERMINAL_CONNECTED)==0)
     {
      g_connectedSinceMs=0;
      return;
     }
   ulong now=GetTickCount64();
   if(g_connectedSinceMs==0)
     {
      g_connectedSinceMs=now;
      return;
     }
   if(now-g_connectedSinceMs<RG_MARK_SETTLE_MS)
      return;
   ulong mark=HighestTicket();
   int deals=0;
   ulong past=HighestHistoryTicket(deals);
   if(past>mark)
      mark=past;
   if(deals==0 && AccountInfoDouble(ACCOUNT_BALANCE)!=0)
      return;                                // money but not even the deposit deal: not loaded
   g_lockTicket=(double)mark;
   PrintFormat("riskguard: lock without a stored ticket mark: mark %I64u taken",mark);
   WriteLockVars();
  }

//--- highest order ticket in the whole account history (0 when it is empty or not loaded);
//--- `deals` = number of deals in it (a funded account has at least its deposit)
ulong HighestHistoryTicket(int &deals)
  {
   ulong highest=0;
   deals=0;
   if(!HistorySelect(0,TimeTradeServer()+86400))
      return(0);
   g_historyDirty=true;                      // the day's selection is made again on the next report
   deals=HistoryDealsTotal();
   int total=HistoryOrdersTotal();
   for(int i=0;i<total;i++)
     {
      ulong t=HistoryOrderGetTicket(i);
      if(t>highest) highest=t;
     }
   return(highest);
  }

void WriteLockVars()
  {
   if(g_login<=0)
      return;
   GlobalVariableSet(LockKey("LOCK"),1);
   GlobalVariableSet(LockKey("LOCK_UNTIL"),g_lockedUntil);
   if(g_lockTicket>=0)
      GlobalVariableSet(LockKey("LOCK_TICKET"),g_lockTicket);
   GlobalVariablesFlush();                   // survive a terminal crash
   g_touchAtMs=GetTickCount64();
  }

void DeleteLockVars()
  {
   if(g_login<=0)
      return;
   string keys[3];
   keys[0]=LockKey("LOCK"); keys[1]=LockKey("LOCK_UNTIL"); keys[2]=LockKey("LOCK_TICKET");
   for(int i=0;i<3;i++)
      if(GlobalVariableCheck(keys[i]) && !GlobalVariableDel(keys[i]))
         GlobalVariableSet(keys[i],0);       // could not delete: 0 means unlocked
   GlobalVariablesFlush();
  }

void SetLock(const bool on,const double untilUtcSeconds)
  {
   if(on)
     {
      if(!g_locked || g_lockTicket<0)
         g_lockTicket=(double)HighestTicket(); // what exists now is the agent's decision
      g_locked=true;
      g_lockedUntil=untilUtcSeconds;
      WriteLockVars();
     }
   else
     {
      g_locked=false;
      g_lockedUntil=0;
      g_lockTicket=0;
      DeleteLockVars();
      ArrayResize(g_boTicket,0); ArrayResize(g_boFails,0); ArrayResize(g_boNextMs,0);
      ClearReductions();
     }
  }

//+------------------------------------------------------------------+
//| Every timer event: read the lock variables again (cheap; a read  |
//| is also an access, and unused variables expire after 4 weeks),   |
//| write them again when they went missing or changed, and rewrite  |
//| them once an hour. A lock found there while unlocked in memory   |
//| is adopted (locking is always the safe side); deleting the       |
//| variables never unlocks.                                         |
//+------------------------------------------------------------------+
void SyncLockVars()
  {
   if(g_login<=0)
      return;
   bool stored=GlobalVariableCheck(LockKey("LOCK")) && GlobalVariableGet(LockKey("LOCK"))>0;
   if(g_locked)
     {
      EnsureLockMark();
      bool intact=stored &&
                  GlobalVariableCheck(LockKey("LOCK_UNTIL")) &&
                  GlobalVariableGet(LockKey("LOCK_UNTIL"))==g_lockedUntil &&
                  (g_lockTicket<0 ||
                   (GlobalVariableCheck(LockKey("LOCK_TICKET")) &&
                    GlobalVariableGet(LockKey("LOCK_TICKET"))==g_lockTicket));
      if(!intact)
        {
         Print("riskguard: the lock variables were missing or changed; written again");
         WriteLockVars();
        }
      else if(GetTickCount64()-g_touchAtMs>=RG_TOUCH_MS)
         WriteLockVars();
     }
   else if(stored)
      LoadLock();
  }

void CheckLockExpiry()
  {
   if(g_locked && g_lockedUntil>0 && (double)TimeGMT()>=g_lockedUntil)
     {
      Print("riskguard: lock expired");
      SetLock(false,0);
     }
  }

ulong HighestTicket()
  {
   ulong highest=0;
   for(int i=0;i<PositionsTotal();i++)
     {
      ulong t=PositionGetTicket(i);
      if(t>highest) highest=t;
     }
   for(int i=0;i<OrdersTotal();i++)
     {
      ulong t=OrderGetTicket(i);
      if(t>highest) highest=t;
     }
   return(highest);
  }

//--- the selected position was opened while locked. POSITION_IDENTIFIER is the ticket of the
//--- order that opened it and never changes (POSITION_TICKET may: swap re-opening, netting reversal)
bool SelectedPositionIsNew()
  {
   ulong id=(ulong)PositionGetInteger(POSITION_IDENTIFIER);
   if(id==0)
      id=(ulong)PositionGetInteger(POSITION_TICKET);
   return((double)id>g_lockTicket);
  }

//+------------------------------------------------------------------+
//| Closes/deletes everything opened or placed after the lock began  |
//| (tickets grow monotonically), and on netting accounts the volume |
//| added while locked to older positions. Each ticket that fails    |
//| waits 1 s, then 5 s, then 30 s between tries (30 s at once after |
//| 10018 market closed); nothing here sleeps beyond the bounded     |
//| waits of one trade request.                                      |
//+------------------------------------------------------------------+
void EnforceLock()
  {
   if(!g_locked || g_lockTicket<0)
      return;                                // no mark yet: nothing counts as new
   ulong now=GetTickCount64();
   //--- pending orders placed while locked
   ulong orders[];
   for(int i=OrdersTotal()-1;i>=0;i--)
     {
      ulong ticket=OrderGetTicket(i);
      if(ticket==0 || (double)ticket<=g_lockTicket) continue;
      if(OrderTypeName((ENUM_ORDER_TYPE)OrderGetInteger(ORDER_TYPE))=="") continue;
      AppendTicket(orders,ticket);
     }
   for(int i=0;i<ArraySize(orders);i++)
     {
      if(!BackoffReady(orders[i],now))
         continue;
      TicketResult r;
      CancelOrder(orders[i],r);
      if(r.ok)
         BackoffClear(orders[i]);
      else
         BackoffFail(orders[i],r.retcode);
      PrintFormat("riskguard: deleting order %I64u placed while locked: %s",orders[i],r.ok ? "ok" : r.message);
     }
   //--- positions opened while locked
   ulong positions[];
   for(int i=PositionsTotal()-1;i>=0;i--)
     {
      ulong ticket=PositionGetTicket(i);
      if(ticket!=0 && SelectedPositionIsNew())
         AppendTicket(positions,ticket);
     }
   for(int i=0;i<ArraySize(positions);i++)
     {
      if(!BackoffReady(positions[i],now))
         continue;
      TicketResult r;
      ClosePosition(positions[i],0,r);
      if(r.ok && !PositionSelectByTicket(positions[i]))
         BackoffClear(positions[i]);
      else if(r.ok)
         BackoffFail(positions[i],r.retcode);   // accepted (PLACED) but not gone yet: give it time
      else
         BackoffFail(positions[i],r.retcode);
      PrintFormat("riskguard: closing position %I64u opened while locked: %s",positions[i],r.ok ? "ok" : r.message);
     }
   //--- netting: volume added to older positions
   EnforceReductions(now);
   BackoffPrune();
  }

//--- per-ticket backoff
int BackoffIndex(const ulong ticket)
  {
   for(int i=0;i<ArraySize(g_boTicket);i++)
      if(g_boTicket[i]==ticket)
         return(i);
   return(-1);
  }

bool BackoffReady(const ulong ticket,const ulong now)
  {
   int i=BackoffIndex(ticket);
   return(i<0 || now>=g_boNextMs[i]);
  }

ulong BackoffDelay(const int fails,const int retcode)
  {
   if(retcode==RC_MARKET_CLOSED)
      return(RG_BACKOFF_MAX);                // the session will not open within seconds
   if(fails<=1) return(RG_BACKOFF_1);
   if(fails==2) return(RG_BACKOFF_2);
   return(RG_BACKOFF_MAX);
  }

void BackoffFail(const ulong ticket,const int retcode)
  {
   int i=BackoffIndex(ticket);
   if(i<0)
     {
      i=ArraySize(g_boTicket);
      ArrayResize(g_boTicket,i+1);
      ArrayResize(g_boFails,i+1);
      ArrayResize(g_boNextMs,i+1);
      g_boTicket[i]=ticket;
      g_boFails[i]=0;
     }
   g_boFails[i]++;
   g_boNextMs[i]=GetTickCount64()+BackoffDelay(g_boFails[i],retcode);
  }

void BackoffRemoveAt(const int i)
  {
   int last=ArraySize(g_boTicket)-1;
   g_boTicket[i]=g_boTicket[last];
   g_boFails[i]=g_boFails[last];
   g_boNextMs[i]=g_boNextMs[last];
   ArrayResize(g_boTicket,last);
   ArrayResize(g_boFails,last);
   ArrayResize(g_boNextMs,last);
  }

void BackoffClear(const ulong ticket)
  {
   int i=BackoffIndex(ticket);
   if(i>=0)
      BackoffRemoveAt(i);
  }

//--- forget tickets that are neither an open order nor an open position any more
void BackoffPrune()
  {
   for(int i=ArraySize(g_boTicket)-1;i>=0;i--)
      if(!OrderSelect(g_boTicket[i]) && !PositionSelectByTicket(g_boTicket[i]))
         BackoffRemoveAt(i);
  }

//+------------------------------------------------------------------+
//| Netting accounts: a deal of an order placed while locked that    |
//| added to (DEAL_ENTRY_IN) or reversed (DEAL_ENTRY_INOUT) a        |
//| position that existed before the lock. Its volume is taken off   |
//| again with an opposite deal (EnforceReductions). A position      |
//| opened while locked is closed whole by EnforceLock instead.      |
//+------------------------------------------------------------------+
void NoteDealWhileLocked(const MqlTradeTransaction &trans)
  {
   if(g_lockTicket<0 || AccountInfoInteger(ACCOUNT_MARGIN_MODE)==ACCOUNT_MARGIN_MODE_RETAIL_HEDGING)
      return;                                // hedging: every entry is a new position
   ulong deal=trans.deal;
   ulong order=trans.order;
   string symbol=trans.symbol;
   double volume=trans.volume;
   long dealType=(long)trans.deal_type;
   long entry=-1;                            // unknown until the deal is in the history
   if(deal>0 && HistoryDealSelect(deal))
     {
      order=(ulong)HistoryDealGetInteger(deal,DEAL_ORDER);
      entry=HistoryDealGetInteger(deal,DEAL_ENTRY);
      dealType=HistoryDealGetInteger(deal,DEAL_TYPE);
      volume=HistoryDealGetDouble(deal,DEAL_VOLUME);
      symbol=HistoryDealGetString(deal,DEAL_SYMBOL);
      g_historyDirty=true;                   // HistoryDealSelect replaced the history selection
     }
   if(deal==0 || order==0 || (double)order<=g_lockTicket)
      return;                                // orders from before the lock: the agent's decision
   if(dealType!=DEAL_TYPE_BUY && dealType!=DEAL_TYPE_SELL)
      return;
   if(entry==DEAL_ENTRY_OUT || entry==DEAL_ENTRY_OUT_BY || !(volume>0) || symbol=="")
      return;
   long side=(dealType==DEAL_TYPE_BUY ? POSITION_TYPE_BUY : POSITION_TYPE_SELL);
   bool found=PositionSelect(symbol);
   if(entry<0 && (!found || PositionGetInteger(POSITION_TYPE)!=side))
      return;                                // entry unknown: the deal reduced the position (OUT)
   if(found && PositionGetInteger(POSITION_TYPE)==side && SelectedPositionIsNew())
      return;                                // opened while locked: closed whole by EnforceLock
   for(int i=0;i<ArraySize(g_redDeal);i++)
      if(g_redDeal[i]==deal)
         return;
   int n=ArraySize(g_redDeal);
   ArrayResize(g_redDeal,n+1);
   ArrayResize(g_redSymbol,n+1);
   ArrayResize(g_redSide,n+1);
   ArrayResize(g_redVolume,n+1);
   ArrayResize(g_redFails,n+1);
   ArrayResize(g_redNextMs,n+1);
   ArrayResize(g_redSinceMs,n+1);
   g_redDeal[n]=deal;
   g_redSymbol[n]=symbol;
   g_redSide[n]=side;
   g_redVolume[n]=volume;                    // INOUT: capped at the reversed position's volume
   g_redFails[n]=0;
   g_redNextMs[n]=0;
   g_redSinceMs[n]=GetTickCount64();
   PrintFormat("riskguard: deal %I64u added %s lots to the %s position while locked",deal,DoubleToString(volume,8),symbol);
  }

void RemoveReductionAt(const int i)
  {
   int last=ArraySize(g_redDeal)-1;
   g_redDeal[i]=g_redDeal[last];
   g_redSymbol[i]=g_redSymbol[last];
   g_redSide[i]=g_redSide[last];
   g_redVolume[i]=g_redVolume[last];
   g_redFails[i]=g_redFails[last];
   g_redNextMs[i]=g_redNextMs[last];
   g_redSinceMs[i]=g_redSinceMs[last];
   ArrayResize(g_redDeal,last);
   ArrayResize(g_redSymbol,last);
   ArrayResize(g_redSide,last);
   ArrayResize(g_redVolume,last);
   ArrayResize(g_redFails,last);
   ArrayResize(g_redNextMs,last);
   ArrayResize(g_redSinceMs,last);
  }

void ClearReductions()
  {
   ArrayResize(g_redDeal,0);
   ArrayResize(g_redSymbol,0);
   ArrayResize(g_redSide,0);
   ArrayResize(g_redVolume,0);
   ArrayResize(g_redFails,0);
   ArrayResize(g_redNextMs,0);
   ArrayResize(g_redSinceMs,0);
  }

bool EnforceReductions(const ulong now)
  {
   bool acted=false;
   for(int i=ArraySize(g_redDeal)-1;i>=0;i--)
     {
      if(i>=ArraySize(g_redDeal) || now<g_redNextMs[i])
         continue;
      string symbol=g_redSymbol[i];
      //--- gone, turned to the other side, or now counted as opened while locked: done here
      //--- (the position list may lag the deal for a moment: a mismatch counts after 2 s)
      if(!PositionSelect(symbol) || PositionGetInteger(POSITION_TYPE)!=g_redSide[i])
        {
         if(now>=g_redSinceMs[i] && now-g_redSinceMs[i]>=2000)
            RemoveReductionAt(i);
         continue;
        }
      if(SelectedPositionIsNew())
        {
         RemoveReductionAt(i);
         continue;
        }
      ulong ticket=(ulong)PositionGetInteger(POSITION_TICKET);
      double have=PositionGetDouble(POSITION_VOLUME);
      double lots=MathMin(g_redVolume[i],have);
      TicketResult r;
      ClosePosition(ticket,(lots>=have ? 0 : lots),r);
      acted=true;
      PrintFormat("riskguard: taking %s lots added while locked off %s (position %I64u): %s",
                  DoubleToString(lots,8),symbol,ticket,r.ok ? "ok" : r.message);
      if(r.ok)
        {
         double left=NormalizeDouble(g_redVolume[i]-r.volume,8);
         double step=SymbolInfoDouble(symbol,SYMBOL_VOLUME_STEP);
         if(r.volume<=0 || left<(step>0 ? step*0.5 : 1e-8))
            RemoveReductionAt(i);
         else
           {
            g_redVolume[i]=left;             // the rest on the next event
            g_redFails[i]=0;
            g_redNextMs[i]=0;
           }
        }
      else
        {
         g_redFails[i]++;
         g_redNextMs[i]=GetTickCount64()+BackoffDelay(g_redFails[i],r.retcode);
        }
     }
   return(acted);
  }

//+------------------------------------------------------------------+
//| One bridge per terminal. RG_OWNER_KEY (a temporary global        |
//| variable: it disappears when the terminal exits) holds the id of |
//| the running bridge and is taken with GlobalVariableSetOnCondition|
//| (atomic). A second copy with the same token (e.g. a chart        |
//| restored from a profile next to the startup chart) removes       |
//| itself. A copy with another token belongs to a newer launch of   |
//| the agent (a new token per launch) and takes over; the old one   |
//| sees that on its next timer event and removes itself. An owner   |
//| whose heartbeat is older than RG_OWNER_STALE_S seconds is dead.  |
//+------------------------------------------------------------------+
double NewOwnerId()
  {
   ulong x=(ulong)ChartID() ^ (GetMicrosecondCount()<<17) ^ ((ulong)TimeLocal()<<5) ^ (ulong)MathRand();
   x^=(x>>33);
   x*=(ulong)6364136223846793005;
   x^=(x>>29);
   return((double)(x%(ulong)4503599627370496)+1.0);   // < 2^52: exact as a double, never 0
  }

double TokenHash(const string token)
  {
   uint h=(uint)2166136261;                        // FNV-1a, 32 bits: exact as a double
   int n=StringLen(token);
   for(int i=0;i<n;i++)
     {
      h^=(uint)StringGetCharacter(token,i);
      h*=(uint)16777619;
     }
   return((double)h);
  }

void EnsureTempVariable(const string name)
  {
   if(!GlobalVariableCheck(name))
      GlobalVariableTemp(name);
  }

void WriteOwnerInfo()
  {
   EnsureTempVariable(RG_OWNER_TOKEN_KEY);
   EnsureTempVariable(RG_OWNER_BEAT_KEY);
   GlobalVariableSet(RG_OWNER_TOKEN_KEY,TokenHash(InpToken));
   GlobalVariableSet(RG_OWNER_BEAT_KEY,(double)TimeLocal());
   g_beatAtMs=GetTickCount64();
  }

bool OwnerStale()
  {
   if(!GlobalVariableCheck(RG_OWNER_BEAT_KEY))
      return(false);
   double beat=GlobalVariableGet(RG_OWNER_BEAT_KEY);
   double now=(double)TimeLocal();
   return(now-beat>RG_OWNER_STALE_S || beat-now>RG_OWNER_STALE_S);
  }

bool ClaimSingleton()
  {
   EnsureTempVariable(RG_OWNER_KEY);         // created with the value 0
   if(!GlobalVariableCheck(RG_OWNER_KEY))
     {
      Print("riskguard: cannot create the terminal global variable "+RG_OWNER_KEY+"; running without the one-bridge guard");
      return(true);
     }
   for(int tries=0;tries<3;tries++)
     {
      double owner=GlobalVariableGet(RG_OWNER_KEY);
      if(owner==g_ownerId)
        {
         WriteOwnerInfo();
         return(true);
        }
      bool free=(owner==0 || OwnerStale());
      bool newerLaunch=!free && GlobalVariableCheck(RG_OWNER_TOKEN_KEY) &&
                       GlobalVariableGet(RG_OWNER_TOKEN_KEY)!=TokenHash(InpToken);
      if(!free && !newerLaunch)
         return(false);                      // a second copy of the running bridge
      if(GlobalVariableSetOnCondition(RG_OWNER_KEY,g_ownerId,owner))
        {
         if(newerLaunch)
            Print("riskguard: a bridge of an earlier launch (another token) ran in this terminal; it stops now");
         WriteOwnerInfo();
         return(true);
        }
     }
   return(false);
  }

//--- on every timer event: still the bridge of this terminal? (also beats once a second)
bool StillOwner()
  {
   if(!GlobalVariableCheck(RG_OWNER_KEY))
      return(ClaimSingleton());              // deleted by hand: take it again
   double owner=GlobalVariableGet(RG_OWNER_KEY);
   if(owner==0)
      return(ClaimSingleton());
   if(owner!=g_ownerId)
      return(false);
   if(GetTickCount64()-g_beatAtMs>=1000)
     {
      EnsureTempVariable(RG_OWNER_BEAT_KEY);
      GlobalVariableSet(RG_OWNER_BEAT_KEY,(double)TimeLocal());
      g_beatAtMs=GetTickCount64();
     }
   return(true);
  }

void ReleaseSingleton()
  {
   if(g_ownerId!=0 && GlobalVariableCheck(RG_OWNER_KEY))
      GlobalVariableSetOnCondition(RG_OWNER_KEY,0,g_ownerId);   // only when it is still ours
  }


//+------------------------------------------------------------------+
//| JSON helpers                                                     |
//+------------------------------------------------------------------+
string JBool(const bool value) { return(value ? "true" : "false"); }

//--- a finite number with at most `digits` decimals, trailing zeros removed
string JNum(const double value,const int digits)
  {
   if(!MathIsValidNumber(value))
      return("0");
   string s=DoubleToString(value,MathMax(0,MathMin(digits,16)));
   if(StringFind(s,".")>=0)
     {
      int len=StringLen(s);
      while(len>0 && StringGetCharacter(s,len-1)=='0') len--;
      if(len>0 && StringGetCharacter(s,len-1)=='.') len--;
      s=StringSubstr(s,0,len);
     }
   if(s=="-0") s="0";
   return(s);
  }

string OptionalPositive(const string name,const double value,const int digits)
  {
   if(!(value>0) || !MathIsValidNumber(value))
      return("");
   return(",\""+name+"\":"+JNum(value,digits));
  }

//--- a JSON string literal (RFC 8259 escaping)
string JStr(const string value)
  {
   string out="\"";
   int len=StringLen(value);
   for(int i=0;i<len;i++)
     {
      ushort c=StringGetCharacter(value,i);
      if(c=='"') out+="\\\"";
      else if(c=='\\') out+="\\\\";
      else if(c=='\n') out+="\\n";
      else if(c=='\r') out+="\\r";
      else if(c=='\t') out+="\\t";
      else if(c<0x20) out+=StringFormat("\\u%04x",c);
      else out+=ShortToString(c);
     }
   return(out+"\"");
  }

//--- parses {"key": value, ...} with string, number, true/false/null values (no nesting)
bool ParseFlatJson(const string text,string &keys[],string &values[])
  {
   ArrayResize(keys,0);
   ArrayResize(values,0);
   int len=StringLen(text);
   int i=SkipSpace(text,0);
   if(i>=len || StringGetCharacter(text,i)!='{') return(false);
   i=SkipSpace(text,i+1);
   if(i<len && StringGetCharacter(text,i)=='}') return(SkipSpace(text,i+1)==len);
   while(i<len)
     {
      string key;
      if(!ReadString(text,i,key)) return(false);
      i=SkipSpace(text,i);
      if(i>=len || StringGetCharacter(text,i)!=':') return(false);
      i=SkipSpace(text,i+1);
      string value;
      if(i<len && StringGetCharacter(text,i)=='"')
        {
         if(!ReadString(text,i,value)) return(false);
        }
      else
        {
         int start=i;
         while(i<len)
           {
            ushort c=StringGetCharacter(text,i);
            if(c==',' || c=='}' || c==' ' || c=='\t' || c=='\r' || c=='\n') break;
            if(c=='{' || c=='[' || c=='"') return(false);  // nesting is not part of commands
            i++;
           }
         value=StringSubstr(text,start,i-start);
         if(value=="") return(false);
        }
      int n=ArraySize(keys);
      ArrayResize(keys,n+1);
      ArrayResize(values,n+1);
      keys[n]=key;
      values[n]=value;
      i=SkipSpace(text,i);
      if(i>=len) return(false);
      ushort c=StringGetCharacter(text,i);
      if(c=='}') return(SkipSpace(text,i+1)==len);
      if(c!=',') return(false);
      i=SkipSpace(text,i+1);
     }
   return(false);
  }

int SkipSpace(const string text,int i)
  {
   int len=StringLen(text);
   while(i<len)
     {
      ushort c=StringGetCharacter(text,i);
      if(c!=' ' && c!='\t' && c!='\r' && c!='\n') break;
      i++;
     }
   return(i);
  }

//--- reads a JSON string starting at text[i]=='"'; leaves i after the closing quote
bool ReadString(const string text,int &i,string &out)
  {
   int len=StringLen(text);
   if(i>=len || StringGetCharacter(text,i)!='"') return(false);
   out="";
   i++;
   while(i<len)
     {
      ushort c=StringGetCharacter(text,i);
      if(c=='"') { i++; return(true); }
      if(c=='\\')
        {
         if(i+1>=len) return(false);
         ushort e=StringGetCharacter(text,i+1);
         if(e=='"' || e=='\\' || e=='/') out+=ShortToString(e);
         else if(e=='n') out+="\n";
         else if(e=='r') out+="\r";
         else if(e=='t') out+="\t";
         else if(e=='b') out+=ShortToString(8);
         else if(e=='f') out+=ShortToString(12);
         else if(e=='u')
           {
            if(i+5>=len) return(false);
            int code=0;
            for(int k=2;k<6;k++)
              {
               ushort h=StringGetCharacter(text,i+k);
               int v=(h>='0' && h<='9') ? h-'0' : (h>='a' && h<='f') ? h-'a'+10 : (h>='A' && h<='F') ? h-'A'+10 : -1;
               if(v<0) return(false);
               code=code*16+v;
              }
            out+=ShortToString((ushort)code);  // UTF-16 unit; surrogate pairs come as two
            i+=4;
           }
         else return(false);
         i+=2;
         continue;
        }
      out+=ShortToString(c);
      i++;
     }
   return(false);
  }

string JsonGet(string &keys[],string &values[],const string key)
  {
   for(int i=0;i<ArraySize(keys);i++)
      if(keys[i]==key)
         return(values[i]);
   return("");
  }

//+------------------------------------------------------------------+
//| Small array helpers                                              |
//+------------------------------------------------------------------+
void AddUnique(string &items[],const string item)
  {
   for(int i=0;i<ArraySize(items);i++)
      if(items[i]==item)
         return;
   int n=ArraySize(items);
   ArrayResize(items,n+1);
   items[n]=item;
  }

void AppendTicket(ulong &items[],const ulong ticket)
  {
   int n=ArraySize(items);
   ArrayResize(items,n+1);
   items[n]=ticket;
  }
//+------------------------------------------------------------------+
