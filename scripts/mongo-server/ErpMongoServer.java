// The project's MongoDB-wire test server: mongo-java-server with its H2
// (MVStore) backend, listening on one address, keeping its data in one file.
//
// Why this and not FerretDB 1.24 (measured, docs/operations.md): FerretDB
// answers every filter but an `_id` hit by scanning the collection, and
// loses concurrent `$inc`s on one document. mongo-java-server looks `_id`
// and unique keys up in an index and applies each document update under
// the collection's lock, as MongoDB does, and it stores to a file.
//
// Usage: java -cp <lib>/*:<classes> ErpMongoServer <host> <port> <file.mv>
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.h2.H2Backend;

public final class ErpMongoServer {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ErpMongoServer <host> <port> <file.mv>");
            System.exit(2);
        }
        H2Backend backend = new H2Backend(args[2]);
        MongoServer server = new MongoServer(backend);
        // SIGTERM / SIGINT: stop accepting, then close the store so every
        // committed write is on disk before the process exits.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            backend.close();
        }));
        server.bind(args[0], Integer.parseInt(args[1]));
        System.out.println("listening on " + args[0] + ":" + args[1] + ", data in " + args[2]);
        Thread.currentThread().join();
    }
}
