// The project's MongoDB-wire test server: mongo-java-server with its H2
// (MVStore) backend, listening on one address, keeping its data in one file.
//
// Why this and not FerretDB 1.24 (measured, docs/operations.md): FerretDB
// answers every filter but an `_id` hit by scanning the collection, and
// loses concurrent `$inc`s on one document. mongo-java-server looks `_id`
// and unique keys up in an index and applies each document update under
// the collection's lock, as MongoDB does, and it stores to a file.
//
// One change to how it plans a query, in ErpCollection below: a filter that
// names `_id` by equality (or `$in`) next to other conditions, such as
// {_id: X, state: "in_progress"}, reads the documents with those ids through
// the `_id` index and tests the other conditions on them. mongo-java-server
// uses an index only when the filter has exactly the index's fields, so it
// scanned the collection for such filters; MongoDB's planner uses the `_id`
// index for them, and the adapters rely on that for guarded updates.
//
// Usage: java -cp <lib>/*:<classes> ErpMongoServer <host> <port> <file.mv>
import de.bwaldvogel.mongo.MongoCollection;
import de.bwaldvogel.mongo.MongoDatabase;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.CollectionOptions;
import de.bwaldvogel.mongo.backend.CursorRegistry;
import de.bwaldvogel.mongo.backend.Index;
import de.bwaldvogel.mongo.backend.QueryResult;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.h2.H2Collection;
import de.bwaldvogel.mongo.backend.h2.H2Database;
import de.bwaldvogel.mongo.bson.Document;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;

public final class ErpMongoServer {
    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ErpMongoServer <host> <port> <file.mv>");
            System.exit(2);
        }
        ErpBackend backend = new ErpBackend(MVStore.open(args[2]));
        MongoServer server = new MongoServer(backend);
        // SIGTERM / SIGINT: stop accepting, then close the store (the
        // server closes its backend) so every committed write is on disk.
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        server.bind(args[0], Integer.parseInt(args[1]));
        System.out.println("listening on " + args[0] + ":" + args[1] + ", data in " + args[2]);
        Thread.currentThread().join();
    }

    /** The H2 backend, with ErpDatabase for every database. */
    static final class ErpBackend extends H2Backend {
        ErpBackend(MVStore store) {
            super(store);
        }

        @Override
        protected MongoDatabase openOrCreateDatabase(String databaseName) {
            return new ErpDatabase(databaseName, getCursorRegistry());
        }

        /**
         * The H2 database, with ErpCollection for every collection. An inner
         * class: H2Database's constructor opens the collections before a
         * subclass's fields are set, and the enclosing backend is set first.
         */
        final class ErpDatabase extends H2Database {
            // The map names H2Database uses for a collection's data and
            // metadata, so files written by either class read back in both.
            private static final String DATA_PREFIX = "databases.";
            private static final String META_PREFIX = "meta.";

            ErpDatabase(String name, CursorRegistry cursors) {
                super(name, ErpBackend.this.getMvStore(), cursors);
            }

            @Override
            protected MongoCollection<Object> openOrCreateCollection(String name, CollectionOptions options) {
                MVStore store = ErpBackend.this.getMvStore();
                String full = getFullCollectionNamespace(name);
                MVMap<Object, Document> data = store.openMap(DATA_PREFIX + full);
                MVMap<String, Object> meta = store.openMap(META_PREFIX + full);
                return new ErpCollection(this, name, options, data, meta, cursorRegistry);
            }
        }
    }

    /** An H2 collection that serves filters naming `_id` from its index. */
    static final class ErpCollection extends H2Collection {
        ErpCollection(MongoDatabase db, String name, CollectionOptions options,
                      MVMap<Object, Document> data, MVMap<String, Object> meta, CursorRegistry cursors) {
            super(db, name, options, data, meta, cursors);
        }

        @Override
        protected QueryResult queryDocuments(Document query, Document orderBy, int skip, int limit,
                                             int batchSize, Document fieldSelector) {
            Object id = query.get("_id");
            if (id != null && query.size() > 1) {
                Document byId = new Document("_id", id);
                for (Index<Object> index : getIndexes()) {
                    boolean idIndex = index.getKeys().size() == 1
                        && index.getKeys().get(0).getKey().equals("_id");
                    if (idIndex && index.canHandle(byId)) {
                        // The candidates by `_id`, then the whole filter on them.
                        return matchDocuments(query, index.getPositions(byId), orderBy, skip, limit,
                            batchSize, fieldSelector);
                    }
                }
            }
            return super.queryDocuments(query, orderBy, skip, limit, batchSize, fieldSelector);
        }
    }
}
