// Launches mongo-java-server (in-memory backend, oplog enabled for change streams) for the
// MongoStore tests and benchmarks. Java single-file source mode, no build step:
//
//   java -cp '.deps/mongo/*' tests/support/mongo/MongoTestServer.java
//
// Binds 127.0.0.1 on a random free port, prints that port on one stdout line, and shuts down
// when stdin reaches end of file (the parent closed it or died).

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import java.io.InputStream;
import java.net.InetSocketAddress;

public class MongoTestServer {
  public static void main(String[] args) throws Exception {
    MemoryBackend backend = new MemoryBackend();
    backend.enableOplog();
    MongoServer server = new MongoServer(backend);
    server.bind("127.0.0.1", 0);
    InetSocketAddress address = server.getLocalAddress();
    System.out.println(address.getPort());
    System.out.flush();
    InputStream in = System.in;
    byte[] buffer = new byte[256];
    while (in.read(buffer) >= 0) {
      // Ignore input: only its end matters.
    }
    server.shutdownNow();
    System.exit(0);
  }
}
