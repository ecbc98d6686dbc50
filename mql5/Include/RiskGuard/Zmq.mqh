//+------------------------------------------------------------------+
//| RiskGuard/Zmq.mqh                                                |
//| riskguard's own minimal binding of the libzmq C API (4.x), just  |
//| what RiskGuardBridge.mq5 needs: a context, PUSH/PULL sockets,    |
//| socket options, connect, non-blocking send and receive, close,   |
//| errors. Written from libzmq's documented C API (zmq.h, the       |
//| zmq_* man pages); no code from any other binding.                |
//|                                                                  |
//| Why it exists: third-party MQL5 ZeroMQ headers mix char[] and    |
//| uchar[] arrays, which the MQL5 compiler stopped converting with  |
//| MT5 build 5100 (June 2025), so they no longer compile.           |
//|                                                                  |
//| Rules of this file (tests/mql5/ea_static_test.ts checks them):   |
//|  - every C pointer (void*: context, socket) is a `long` on x64;  |
//|    MT5 is 64-bit only, so a pointer is 8 bytes;                  |
//|  - every C size_t is a `ulong` (8 bytes on x64);                 |
//|  - every byte buffer is a `uchar` array, never `char` and never  |
//|    `string` (MQL5 passes a string to a DLL as a UTF-16 wchar_t*, |
//|    which libzmq would read as garbage); an array parameter of a  |
//|    DLL function receives a pointer to the array's first element; |
//|  - a buffer is always followed by its explicit length, except    |
//|    zmq_connect, whose endpoint is a C string: the caller appends |
//|    the terminating NUL byte itself (ZmqCString below);           |
//|  - a simple type passed by reference (`int &`, `ulong &`) is     |
//|    passed to the DLL as a pointer to it (MQL5 #import rules).    |
//+------------------------------------------------------------------+
#ifndef RISKGUARD_ZMQ_MQH
#define RISKGUARD_ZMQ_MQH

//--- socket types (zmq.h)
#define ZMQ_PULL              7
#define ZMQ_PUSH              8

//--- socket options (zmq.h); the C type of each value is noted
#define ZMQ_RCVMORE           13   // int, read only
#define ZMQ_LINGER            17   // int, ms
#define ZMQ_RECONNECT_IVL     18   // int, ms
#define ZMQ_RECONNECT_IVL_MAX 21   // int, ms
#define ZMQ_MAXMSGSIZE        22   // int64_t, bytes
#define ZMQ_SNDHWM            23   // int, messages
#define ZMQ_IMMEDIATE         39   // int, 0/1
#define ZMQ_PLAIN_USERNAME    45   // bytes, length-counted (no NUL)
#define ZMQ_PLAIN_PASSWORD    46   // bytes, length-counted (no NUL)

//--- send/receive flags (zmq.h)
#define ZMQ_DONTWAIT          1

//--- errno values libzmq reports through zmq_errno() on Windows (MSVC errno.h; ETERM is
//--- libzmq's own: ZMQ_HAUSNUMERO 156384712 + 53)
#define ZMQ_EAGAIN            11
#define ZMQ_ETERM             156384765

#import "libzmq.dll"
//--- void *zmq_ctx_new (void);
long zmq_ctx_new();
//--- int zmq_ctx_term (void *context);  blocks until every socket of the context is closed
//--- and its linger time passed (all our sockets use linger 0)
int  zmq_ctx_term(long context);
//--- void *zmq_socket (void *context, int type);  NULL (0) on failure
long zmq_socket(long context,int type);
//--- int zmq_close (void *socket);
int  zmq_close(long socket);
//--- int zmq_setsockopt (void *socket, int option_name, const void *option_value,
//---                     size_t option_len);
int  zmq_setsockopt(long socket,int option,const uchar &value[],ulong length);
//--- int zmq_getsockopt (void *socket, int option_name, void *option_value,
//---                     size_t *option_len);  option_len is in/out
int  zmq_getsockopt(long socket,int option,uchar &value[],ulong &length);
//--- int zmq_connect (void *socket, const char *endpoint);  a NUL-terminated C string
int  zmq_connect(long socket,const uchar &endpoint[]);
//--- int zmq_send (void *socket, const void *buf, size_t len, int flags);
int  zmq_send(long socket,const uchar &buffer[],ulong length,int flags);
//--- int zmq_recv (void *socket, void *buf, size_t len, int flags);  returns the message's
//--- full size, which exceeds len when the message was truncated
int  zmq_recv(long socket,uchar &buffer[],ulong length,int flags);
//--- int zmq_errno (void);  the errno of the calling thread as libzmq's C runtime sees it
int  zmq_errno();
//--- const char *zmq_strerror (int errnum);  a pointer to a static C string
long zmq_strerror(int errnum);
//--- void zmq_version (int *major, int *minor, int *patch);
void zmq_version(int &major,int &minor,int &patch);
#import

//--- only to read the C string zmq_strerror points to (kernel32 is part of every Windows)
#import "kernel32.dll"
//--- int lstrlenA (LPCSTR lpString);  length in bytes without the NUL
int  lstrlenA(long text);
//--- void RtlMoveMemory (void *Destination, const void *Source, SIZE_T Length);
void RtlMoveMemory(uchar &destination[],long source,ulong length);
#import

//+------------------------------------------------------------------+
//| UTF-8 bytes of a string, exactly its characters: no terminating  |
//| zero. StringToCharArray with count -1 converts the whole string  |
//| and appends one 0 byte, which is dropped here (a count in        |
//| characters would be ambiguous once UTF-8 needs several bytes per |
//| character, and could cut non-ASCII text).                        |
//+------------------------------------------------------------------+
int ZmqUtf8(const string text,uchar &bytes[])
  {
   ArrayResize(bytes,0);
   int n=StringToCharArray(text,bytes,0,-1,CP_UTF8);
   if(n>0 && bytes[n-1]==0)
      n--;
   if(n<0)
      n=0;
   ArrayResize(bytes,n);
   return(n);
  }

//--- a C string for libzmq: the UTF-8 bytes followed by exactly one NUL byte
int ZmqCString(const string text,uchar &bytes[])
  {
   int n=ZmqUtf8(text,bytes);
   ArrayResize(bytes,n+1);
   bytes[n]=0;
   return(n+1);
  }

//--- text of a libzmq error number, e.g. "Resource temporarily unavailable"
string ZmqErrorText(const int error)
  {
   long text=zmq_strerror(error);
   if(text==0)
      return("errno "+IntegerToString(error));
   int n=lstrlenA(text);
   if(n<=0)
      return("errno "+IntegerToString(error));
   uchar bytes[];
   ArrayResize(bytes,n);
   RtlMoveMemory(bytes,text,(ulong)n);
   return(CharArrayToString(bytes,0,n,CP_UTF8)+" (errno "+IntegerToString(error)+")");
  }

//--- the last error of this thread as text
string ZmqLastError()
  {
   return(ZmqErrorText(zmq_errno()));
  }

//--- "4.3.4": the version of the libzmq.dll the terminal loaded
string ZmqVersion()
  {
   int major=0,minor=0,patch=0;
   zmq_version(major,minor,patch);
   return(IntegerToString(major)+"."+IntegerToString(minor)+"."+IntegerToString(patch));
  }

//--- an int option: 4 bytes, little-endian (x64 Windows), length 4 = sizeof(int)
bool ZmqSetInt(const long socket,const int option,const int value)
  {
   uchar bytes[4];
   uint v=(uint)value;
   for(int i=0;i<4;i++)
      bytes[i]=(uchar)((v>>(8*i))&0xFF);
   return(zmq_setsockopt(socket,option,bytes,4)==0);
  }

//--- an int64_t option: 8 bytes, little-endian, length 8 = sizeof(int64_t)
bool ZmqSetInt64(const long socket,const int option,const long value)
  {
   uchar bytes[8];
   ulong v=(ulong)value;
   for(int i=0;i<8;i++)
      bytes[i]=(uchar)((v>>(8*i))&0xFF);
   return(zmq_setsockopt(socket,option,bytes,8)==0);
  }

//--- a byte-string option (PLAIN user name/password): the UTF-8 bytes and their count, no NUL
//--- (PLAIN fields are length-counted on the wire, RFC 24: a NUL would be part of the value)
bool ZmqSetText(const long socket,const int option,const string value)
  {
   uchar bytes[];
   int n=ZmqUtf8(value,bytes);
   if(n<=0)
      return(false);
   return(zmq_setsockopt(socket,option,bytes,(ulong)n)==0);
  }

//--- an int option read back (ZMQ_RCVMORE); -1 on failure
int ZmqGetInt(const long socket,const int option)
  {
   uchar bytes[4];
   for(int i=0;i<4;i++)
      bytes[i]=0;
   ulong length=4;
   if(zmq_getsockopt(socket,option,bytes,length)!=0 || length!=4)
      return(-1);
   return((int)((uint)bytes[0] | ((uint)bytes[1]<<8) | ((uint)bytes[2]<<16) | ((uint)bytes[3]<<24)));
  }

//--- connects to an endpoint such as "tcp://127.0.0.1:5555"
bool ZmqConnect(const long socket,const string endpoint)
  {
   uchar bytes[];
   ZmqCString(endpoint,bytes);
   return(zmq_connect(socket,bytes)==0);
  }

//--- sends one single-part message of UTF-8 text without blocking; false when libzmq could not
//--- queue it (no completed connection with ZMQ_IMMEDIATE, high-water mark reached, ...)
bool ZmqSendText(const long socket,const string text)
  {
   uchar bytes[];
   int n=ZmqUtf8(text,bytes);
   if(n<=0)
      return(false);
   return(zmq_send(socket,bytes,(ulong)n,ZMQ_DONTWAIT)==n);
  }

#endif
