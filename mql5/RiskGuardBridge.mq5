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
//| Needs the mql-zmq binding (github.com/dingmaotu/mql-zmq):        |
//| MQL5/Include/Zmq, MQL5/Include/Mql, MQL5/Libraries/libzmq.dll,   |
//| libsodium.dll, and "Allow DLL imports". See mql5/README.md.      |
//+------------------------------------------------------------------+
#property copyright "riskguard"
#property link      "https://github.com/riskguard"
#property version   "1.00"
#property description "riskguard bridge: account snapshots out, lock/close commands in (ZeroMQ, PLAIN)."

#include <Zmq/Zmq.mqh>

//--- inputs (written per launch by the agent into MQL5/Presets/riskguard-<port>.set)
input int    InpPort        = 5555; // Agent base port (PUSH to it, PULL from port+1)
input string InpToken       = "";   // PLAIN password of this launch
input int    InpTimerMs     = 250;  // Timer period (ms): how often changes are looked for
input int    InpHeartbeatMs = 1000; // Heartbeat when nothing changed (ms)

//--- protocol constants
#define RG_PROTOCOL        1
#define RG_EA_VERSION      "1.0.0"
#define RG_USERNAME        "riskguard"
#define RG_MAX_MESSAGE     1048576
#define RG_ACK_CACHE       256
#define RG_MAX_ATTEMPTS    3
#define RG_DEVIATION       50       // points of slippage accepted when closing
#define RG_HISTORY_REFRESH 5000     // ms between history refreshes without trade events

//--- trade server return codes (also predefined as TRADE_RETCODE_*; spelled out for clarity)
#define RC_NONE              0
#define RC_REQUOTE           10004
#define RC_PLACED            10008
#define RC_DONE              10009
#define RC_DONE_PARTIAL      10010
#define RC_MARKET_CLOSED     10018
#define RC_PRICE_CHANGED     10020
#define RC_PRICE_OFF         10021
#define RC_TOO_MANY_REQUESTS 10024
#define RC_CLIENT_DISABLES_AT 10027
#define RC_INVALID_FILL      10030
#define RC_POSITION_CLOSED   10036

//+------------------------------------------------------------------+
//| A Socket that sets the PLAIN credentials without a terminating   |
//| zero. mql-zmq's setPlainUsername/setPlainPassword convert with   |
//| StringToCharArray(..., -1, CP_UTF8), which copies the string's   |
//| terminating 0: libzmq would then send "riskguard\0" and         |
//| "<token>\0" (PLAIN fields are length-counted, RFC 24) and the   |
//| agent would refuse every login. The bytes go through the         |
//| binding's protected setOption(option, uchar[], length) instead.  |
//+------------------------------------------------------------------+
class RgSocket : public Socket
  {
public:
                     RgSocket(const Context &ctx,const int type):Socket(ctx,type) {}
   bool              setPlainCredential(const int option,const string value)
     {
      uchar bytes[];
      //--- count = StringLen: the characters only, no terminating zero
      int copied=StringToCharArray(value,bytes,0,StringLen(value),CP_UTF8);
      int size=MathMin(copied,ArraySize(bytes));
      while(size>0 && bytes[size-1]==0)
         size--;                             // never a trailing NUL on the wire
      if(size<=0)
         return(false);
      return(setOption(option,bytes,(size_t)size));
     }
  };

//--- ZeroMQ objects (kept across OnDeinit/OnInit on a chart symbol/period change)
// One context per terminal process, shared by name between programs (mql-zmq GlobalHandle);
// it is terminated when the last program using it unloads.
Context  g_context("riskguard-bridge-context");
RgSocket *g_push   = NULL;
RgSocket *g_pull   = NULL;

//--- session state
long   g_seq          = 0;      // seq of the last snapshot sent in this session
string g_lastBody     = "";     // snapshot body last sent (change detection)
ulong  g_lastSentMs   = 0;      // GetTickCount64() of the last message sent
bool   g_needHello    = true;   // send hello before anything else
bool   g_dirty        = true;   // trade event seen: look at the state now
bool   g_historyDirty = true;   // recompute realized P/L and position commissions
ulong  g_historyAtMs  = 0;

//--- lock mode (mirrored in terminal global variables, see LockKey())
bool   g_locked      = false;
double g_lockedUntil = 0;       // UTC seconds, 0 = until unlocked
double g_lockTicket  = 0;       // highest position/order ticket when the lock began

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
   int               attempts;
  };

//+------------------------------------------------------------------+
//| Start: restore lock mode, connect, say hello, start the timer.   |
//+------------------------------------------------------------------+
int OnInit()
  {
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
   ArrayResize(g_ackIds,RG_ACK_CACHE);
   ArrayResize(g_ackJson,RG_ACK_CACHE);
   LoadLock();
   if(g_push==NULL || g_pull==NULL)
     {
      if(!Connect())
        {
         Disconnect();
         return(INIT_FAILED);
        }
     }
   g_needHello=true;
   g_dirty=true;
   g_historyDirty=true;
   if(!EventSetMillisecondTimer(MathMax(InpTimerMs,10)))
     {
      Print("riskguard: cannot start the timer");
      return(INIT_FAILED);
     }
   SendHello();
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
  }

//+------------------------------------------------------------------+
//| Every tick of the timer: commands, lock enforcement, reporting.  |
//+------------------------------------------------------------------+
void OnTimer()
  {
   if(g_push==NULL || g_pull==NULL)
      return;
   if(g_needHello)
      SendHello();
   ReadCommands();
   CheckLockExpiry();
   if(g_locked)
      EnforceLock();
   Report(false);
  }

//+------------------------------------------------------------------+
//| Trade events: enforce the lock and report right away.            |
//+------------------------------------------------------------------+
void OnTradeTransaction(const MqlTradeTransaction &trans,
                        const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   g_dirty=true;
   if(trans.type==TRADE_TRANSACTION_DEAL_ADD || trans.type==TRADE_TRANSACTION_HISTORY_ADD)
      g_historyDirty=true;
   if(g_push==NULL)
      return;
   if(g_locked && (trans.type==TRADE_TRANSACTION_DEAL_ADD || trans.type==TRADE_TRANSACTION_ORDER_ADD))
      EnforceLock();
   Report(false);
  }

//+------------------------------------------------------------------+
//| ZeroMQ: connect PUSH to port and PULL to port+1 as PLAIN client. |
//+------------------------------------------------------------------+
bool Connect()
  {
   g_push=new RgSocket(g_context,ZMQ_PUSH);
   g_pull=new RgSocket(g_context,ZMQ_PULL);
   if(!g_push.valid() || !g_pull.valid())
     {
      Print("riskguard: cannot create ZeroMQ sockets (libzmq.dll loaded? Allow DLL imports on?)");
      return(false);
     }
   bool ok=true;
   ok=ok && SetupSocket(g_push);
   ok=ok && SetupSocket(g_pull);
   // Only queue messages on a completed connection: while the agent is away a send fails,
   // which tells us to say hello again once it is back (docs/protocol.md section 4.1).
   ok=ok && g_push.setImmediate(true);
   ok=ok && g_push.setSendHighWaterMark(100);
   ok=ok && g_push.connect(StringFormat("tcp://127.0.0.1:%d",InpPort));
   ok=ok && g_pull.connect(StringFormat("tcp://127.0.0.1:%d",InpPort+1));
   if(!ok)
      Print("riskguard: cannot configure or connect the ZeroMQ sockets");
   return(ok);
  }

bool SetupSocket(RgSocket *socket)
  {
   bool ok=true;
   ok=ok && socket.setPlainCredential(ZMQ_PLAIN_USERNAME,RG_USERNAME);
   ok=ok && socket.setPlainCredential(ZMQ_PLAIN_PASSWORD,InpToken);   // never printed
   ok=ok && socket.setLinger(0);
   ok=ok && socket.setMaxMessageSize(RG_MAX_MESSAGE);
   ok=ok && socket.setReconnectInterval(100);
   ok=ok && socket.setReconnectIntervalMax(2000);
   return(ok);
  }

void Disconnect()
  {
   if(g_push!=NULL) { delete g_push; g_push=NULL; }   // zmq_close with linger 0
   if(g_pull!=NULL) { delete g_pull; g_pull=NULL; }
  }

//+------------------------------------------------------------------+
//| Sending                                                          |
//+------------------------------------------------------------------+
bool Send(const string json)
  {
   if(g_push==NULL)
      return(false);
   ZmqMsg msg(json);                       // UTF-8, no terminating zero
   if(!g_push.send(msg,true))              // never block the terminal thread
     {
      g_needHello=true;                    // agent away: new session when it is back
      return(false);
     }
   g_lastSentMs=GetTickCount64();
   return(true);
  }

void SendHello()
  {
   if(AccountInfoInteger(ACCOUNT_LOGIN)<=0)
      return;                                // not logged in yet: hello on a later timer event
   string json="{\"type\":\"hello\",\"protocol\":"+IntegerToString(RG_PROTOCOL)+
               ",\"ea_version\":"+JStr(RG_EA_VERSION)+
               ",\"terminal_build\":"+IntegerToString(TerminalInfoInteger(TERMINAL_BUILD))+
               ",\"login\":"+IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))+
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
//+------------------------------------------------------------------+
void Report(const bool force)
  {
   if(g_needHello)
      return;
   RefreshHistory(false);
   string body=SnapshotBody();
   if(force || body!=g_lastBody)
     {
      string json="{\"type\":\"snapshot\",\"seq\":"+IntegerToString(g_seq+1)+TimesJson()+","+body+"}";
      if(StringLen(json)*3>RG_MAX_MESSAGE)
         Print("riskguard: snapshot may exceed the 1 MiB limit");
      if(Send(json))
        {
         g_seq++;
         g_lastBody=body;
        }
      g_dirty=false;
      return;
     }
   if(GetTickCount64()-g_lastSentMs>=(ulong)InpHeartbeatMs)
     {
      Send("{\"type\":\"heartbeat\""+TimesJson()+",\"seq\":"+IntegerToString(g_seq)+
           ",\"locked\":"+JBool(g_locked)+
           ",\"connected\":"+JBool(TerminalInfoInteger(TERMINAL_CONNECTED)!=0)+"}");
     }
  }

string SnapshotBody()
  {
   string symbols[];
   string json="\"account\":"+AccountJson();
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
            ",\"profit\":"+JNum(PositionGetDouble(POSITION_PROFIT),2)+
            ",\"swap\":"+JNum(PositionGetDouble(POSITION_SWAP),2)+
            ",\"commission\":"+JNum(PositionCommission(identifier),2)+
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
   //--- contract data of the symbols in use (omitted while MT5 has no valid tick data)
   json+=",\"symbols\":{";
   first=true;
   for(int i=0;i<ArraySize(symbols);i++)
     {
      string s=symbols[i];
      double tickValue=SymbolInfoDouble(s,SYMBOL_TRADE_TICK_VALUE);
      double tickSize=SymbolInfoDouble(s,SYMBOL_TRADE_TICK_SIZE);
      if(!(tickValue>0) || !(tickSize>0))
         continue;
      int digits=(int)SymbolInfoInteger(s,SYMBOL_DIGITS);
      if(!first) json+=",";
      first=false;
      json+=JStr(s)+":{\"tick_value\":"+JNum(tickValue,10)+
            ",\"tick_size\":"+JNum(tickSize,10)+
            ",\"volume_step\":"+JNum(SymbolInfoDouble(s,SYMBOL_VOLUME_STEP),8)+
            ",\"volume_min\":"+JNum(SymbolInfoDouble(s,SYMBOL_VOLUME_MIN),8)+
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
   json+=",\"realized_today\":{\"profit\":"+JNum(g_realProfit,2)+
         ",\"swap\":"+JNum(g_realSwap,2)+
         ",\"commission\":"+JNum(g_realCommission,2)+
         ",\"total\":"+JNum(total_,2)+
         ",\"fee\":"+JNum(g_realFee,2)+
         ",\"deals\":"+IntegerToString(g_realDeals)+
         ",\"day_start\":"+IntegerToString(g_dayStart*1000)+
         ",\"balance_ops\":"+JNum(g_balanceOps,2)+"}";
   json+=",\"trade_allowed\":"+JBool(TradingAllowed())+
         ",\"locked\":"+JBool(g_locked)+
         ",\"locked_until\":"+IntegerToString((long)(g_lockedUntil*1000))+
         ",\"connected\":"+JBool(TerminalInfoInteger(TERMINAL_CONNECTED)!=0);
   return(json);
  }

string AccountJson()
  {
   long marginMode=AccountInfoInteger(ACCOUNT_MARGIN_MODE);
   long tradeMode=AccountInfoInteger(ACCOUNT_TRADE_MODE);
   string mode=(tradeMode==ACCOUNT_TRADE_MODE_DEMO ? "demo" : (tradeMode==ACCOUNT_TRADE_MODE_CONTEST ? "contest" : "real"));
   return("{\"login\":"+IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN))+
          ",\"currency\":"+JStr(AccountInfoString(ACCOUNT_CURRENCY))+
          ",\"balance\":"+JNum(AccountInfoDouble(ACCOUNT_BALANCE),2)+
          ",\"equity\":"+JNum(AccountInfoDouble(ACCOUNT_EQUITY),2)+
          ",\"margin\":"+JNum(AccountInfoDouble(ACCOUNT_MARGIN),2)+
          ",\"free_margin\":"+JNum(AccountInfoDouble(ACCOUNT_MARGIN_FREE),2)+
          ",\"profit\":"+JNum(AccountInfoDouble(ACCOUNT_PROFIT),2)+
          ",\"credit\":"+JNum(AccountInfoDouble(ACCOUNT_CREDIT),2)+
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
         if(type==DEAL_TYPE_BUY || type==DEAL_TYPE_SELL)
           {
            g_realProfit+=profit;
            g_realSwap+=HistoryDealGetDouble(deal,DEAL_SWAP);
            g_realCommission+=HistoryDealGetDouble(deal,DEAL_COMMISSION);
            g_realFee+=HistoryDealGetDouble(deal,DEAL_FEE);
            g_realDeals++;
           }
         else
            g_balanceOps+=profit;            // balance, credit, bonus, corrections ...
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
   for(int n=0;n<100;n++)                    // bounded per timer event
     {
      ZmqMsg msg;
      if(!g_pull.recv(msg,true))
         return;                             // nothing waiting (EAGAIN)
      if(msg.more())
        {
         // Multi-part messages are not part of the protocol: drain and drop them.
         while(msg.more())
           {
            ZmqMsg part;
            if(!g_pull.recv(part,true)) break;
            if(!part.more()) break;
           }
         Print("riskguard: dropped a multi-part command");
         continue;
        }
      if(msg.size()>RG_MAX_MESSAGE)
        {
         Print("riskguard: dropped an oversized command");
         continue;
        }
      HandleCommand(msg.getData());
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
      ClosePosition((ulong)StringToInteger(JsonGet(keys,values,"ticket")),
                    StringToDouble(JsonGet(keys,values,"volume")),results[0]);
      ack=Summarize(id,results);
     }
   else if(type=="close_all")
     {
      TicketResult results[];
      CancelAllOrders(results);              // pending orders first ...
      CloseAllPositions(results);            // ... then positions, largest loss first
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
   g_dirty=true;
   if(helloAfter)
      SendHello();
   else
      Report(false);
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
            ",\"attempts\":"+IntegerToString(results[i].attempts)+"}";
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
   for(r.attempts=1;r.attempts<=RG_MAX_ATTEMPTS;r.attempts++)
     {
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
      if(!Retryable(result.retcode))
         break;
      Sleep(result.retcode==RC_TOO_MANY_REQUESTS ? 100 : 20);
     }
   r.ok=false;
   r.message=RetcodeText(r.retcode);
   if(r.attempts>RG_MAX_ATTEMPTS) r.attempts=RG_MAX_ATTEMPTS;
  }

void CloseAllPositions(TicketResult &results[])
  {
   //--- largest loss first: the positions that hurt most are gone first
   ulong tickets[];
   double profits[];
   for(int i=0;i<PositionsTotal();i++)
     {
      ulong ticket=PositionGetTicket(i);
      if(ticket==0) continue;
      int n=ArraySize(tickets);
      ArrayResize(tickets,n+1);
      ArrayResize(profits,n+1);
      tickets[n]=ticket;
      profits[n]=PositionGetDouble(POSITION_PROFIT)+PositionGetDouble(POSITION_SWAP);
     }
   int n=ArraySize(tickets);
   for(int i=0;i<n-1;i++)
      for(int j=i+1;j<n;j++)
         if(profits[j]<profits[i])
           {
            double p=profits[i]; profits[i]=profits[j]; profits[j]=p;
            ulong t=tickets[i]; tickets[i]=tickets[j]; tickets[j]=t;
           }
   for(int i=0;i<n;i++)
     {
      int k=ArraySize(results);
      ArrayResize(results,k+1);
      ClosePosition(tickets[i],0,results[k]);
     }
  }

void ClosePosition(const ulong ticket,const double volume,TicketResult &r)
  {
   InitResult(r,ticket);
   if(!PositionSelectByTicket(ticket))
     {
      r.ok=true; r.retcode=RC_POSITION_CLOSED; r.message="position already closed";
      return;
     }
   string symbol=PositionGetString(POSITION_SYMBOL);
   double have=PositionGetDouble(POSITION_VOLUME);
   double step=SymbolInfoDouble(symbol,SYMBOL_VOLUME_STEP);
   double lots=have;
   if(volume>0 && volume<have)
     {
      lots=(step>0 ? MathFloor(volume/step+1e-9)*step : volume);
      lots=NormalizeDouble(lots,8);
      if(lots<SymbolInfoDouble(symbol,SYMBOL_VOLUME_MIN))
        {
         r.retcode=10014; r.message="invalid volume "+DoubleToString(volume,8);
         return;
        }
     }
   bool hedging=(AccountInfoInteger(ACCOUNT_MARGIN_MODE)==ACCOUNT_MARGIN_MODE_RETAIL_HEDGING);
   ENUM_ORDER_TYPE_FILLING fillings[3];
   int fillingCount=FillingModes(symbol,fillings);
   int filling=0;
   double remaining=lots;
   for(r.attempts=1;r.attempts<=RG_MAX_ATTEMPTS+fillingCount;r.attempts++)
     {
      if(!PositionSelectByTicket(ticket))
        {
         r.ok=true; r.retcode=(r.volume>0 ? RC_DONE : RC_POSITION_CLOSED);
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
      request.symbol=symbol;
      request.volume=remaining;
      request.type=(type==POSITION_TYPE_BUY ? ORDER_TYPE_SELL : ORDER_TYPE_BUY);
      request.price=(type==POSITION_TYPE_BUY ? tick.bid : tick.ask);
      request.deviation=RG_DEVIATION;
      request.type_filling=fillings[filling];
      request.magic=PositionGetInteger(POSITION_MAGIC);
      request.comment="riskguard close";
      if(hedging)
         request.position=ticket;           // netting: an opposite deal on the symbol closes it
      bool sent=OrderSend(request,result);
      r.retcode=(int)result.retcode;
      if(sent && (result.retcode==RC_DONE || result.retcode==RC_PLACED))
        {
         r.ok=true;
         r.volume+=result.volume>0 ? result.volume : remaining;
         r.price=result.price;
         return;
        }
      if(result.retcode==RC_DONE_PARTIAL)
        {
         r.volume+=result.volume;
         remaining=NormalizeDouble(remaining-result.volume,8);
         r.price=result.price;
         if(remaining<=0) { r.ok=true; r.retcode=RC_DONE; return; }
         continue;
        }
      if(result.retcode==RC_POSITION_CLOSED)
        {
         r.ok=true; r.message="position already closed";
         return;
        }
      if(result.retcode==RC_INVALID_FILL && filling+1<fillingCount)
        {
         filling++;                          // FOK -> IOC -> RETURN
         continue;
        }
      if(!Retryable(result.retcode))
         break;
      Sleep(result.retcode==RC_TOO_MANY_REQUESTS ? 100 : 20);
     }
   r.ok=false;
   r.message=RetcodeText(r.retcode);
   if(r.attempts>RG_MAX_ATTEMPTS+fillingCount) r.attempts=RG_MAX_ATTEMPTS+fillingCount;
  }

//--- filling modes the symbol allows, preferred first
int FillingModes(const string symbol,ENUM_ORDER_TYPE_FILLING &modes[])
  {
   long allowed=SymbolInfoInteger(symbol,SYMBOL_FILLING_MODE);
   int n=0;
   if((allowed & SYMBOL_FILLING_FOK)!=0) modes[n++]=ORDER_FILLING_FOK;
   if((allowed & SYMBOL_FILLING_IOC)!=0) modes[n++]=ORDER_FILLING_IOC;
   long execution=SymbolInfoInteger(symbol,SYMBOL_TRADE_EXEMODE);
   if(execution!=SYMBOL_TRADE_EXECUTION_MARKET || n==0)
      modes[n++]=ORDER_FILLING_RETURN;
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
      default:                    return("retcode "+IntegerToString(retcode));
     }
  }

void InitResult(TicketResult &r,const ulong ticket)
  {
   r.ticket=ticket; r.ok=false; r.retcode=RC_NONE; r.message=""; r.volume=0; r.price=0; r.attempts=0;
  }

//+------------------------------------------------------------------+
//| Lock mode, persisted in terminal global variables                |
//+------------------------------------------------------------------+
string LockKey(const string what)
  {
   return("RG_"+what+"_"+IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN)));
  }

void LoadLock()
  {
   g_locked=GlobalVariableCheck(LockKey("LOCK")) && GlobalVariableGet(LockKey("LOCK"))>0;
   g_lockedUntil=GlobalVariableCheck(LockKey("LOCK_UNTIL")) ? GlobalVariableGet(LockKey("LOCK_UNTIL")) : 0;
   g_lockTicket=GlobalVariableCheck(LockKey("LOCK_TICKET")) ? GlobalVariableGet(LockKey("LOCK_TICKET")) : 0;
   CheckLockExpiry();
  }

void SetLock(const bool on,const double untilUtcSeconds)
  {
   if(on)
     {
      if(!g_locked)
         g_lockTicket=(double)HighestTicket(); // what exists now is the agent's decision
      g_locked=true;
      g_lockedUntil=untilUtcSeconds;
      GlobalVariableSet(LockKey("LOCK"),1);
      GlobalVariableSet(LockKey("LOCK_UNTIL"),g_lockedUntil);
      GlobalVariableSet(LockKey("LOCK_TICKET"),g_lockTicket);
     }
   else
     {
      g_locked=false;
      g_lockedUntil=0;
      g_lockTicket=0;
      GlobalVariableDel(LockKey("LOCK"));
      GlobalVariableDel(LockKey("LOCK_UNTIL"));
      GlobalVariableDel(LockKey("LOCK_TICKET"));
     }
   GlobalVariablesFlush();                   // survive a terminal crash
  }

void CheckLockExpiry()
  {
   if(g_locked && g_lockedUntil>0 && (double)TimeGMT()>=g_lockedUntil)
     {
      Print("riskguard: lock expired");
      SetLock(false,0);
      g_dirty=true;
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

//--- close/delete everything opened or placed after the lock began (tickets grow monotonically)
void EnforceLock()
  {
   TicketResult results[];
   for(int i=OrdersTotal()-1;i>=0;i--)
     {
      ulong ticket=OrderGetTicket(i);
      if(ticket==0 || (double)ticket<=g_lockTicket) continue;
      if(OrderTypeName((ENUM_ORDER_TYPE)OrderGetInteger(ORDER_TYPE))=="") continue;
      int n=ArraySize(results);
      ArrayResize(results,n+1);
      CancelOrder(ticket,results[n]);
      PrintFormat("riskguard: deleted order %I64u placed while locked (%s)",ticket,results[n].ok ? "ok" : results[n].message);
     }
   ulong tickets[];
   for(int i=PositionsTotal()-1;i>=0;i--)
     {
      ulong ticket=PositionGetTicket(i);
      if(ticket!=0 && (double)ticket>g_lockTicket)
         AppendTicket(tickets,ticket);
     }
   for(int i=0;i<ArraySize(tickets);i++)
     {
      int n=ArraySize(results);
      ArrayResize(results,n+1);
      ClosePosition(tickets[i],0,results[n]);
      PrintFormat("riskguard: closed position %I64u opened while locked (%s)",tickets[i],results[n].ok ? "ok" : results[n].message);
     }
   if(ArraySize(results)>0)
      g_dirty=true;
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
