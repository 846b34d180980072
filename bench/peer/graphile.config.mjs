// PostGraphile 5 as bench/peer runs it beside Tuneyard: the Amber preset with the connection-filter plugin, in
// production mode (NODE_ENV=production, no GraphiQL, no watch, no explain), over the `public` schema's tables.
// bench/peer copies this file next to the installed packages (its imports resolve from there) and sets:
//   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE  the database (node-postgres reads them when given no URL;
//                                                   PGHOST may be a unix socket folder)
//   PEER_PORT                                       the HTTP port on 127.0.0.1
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PostGraphileConnectionFilterPreset } from "postgraphile-plugin-connection-filter";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
  // Without it every column can be filtered and ordered on, not only indexed ones (Tuneyard's filter allows all).
  disablePlugins: ["PgIndexBehaviorsPlugin"],
  pgServices: [makePgService({ schemas: ["public"], pubsub: false })],
  schema: {
    connectionFilterArrays: true,
    // Filters through relations: `not: {exampleTagByExampleId: {tags: {overlaps: [...]}}}` is Tuneyard's
    // `tags: {containsNone: [...]}`, one NOT EXISTS over example_tags.
    connectionFilterRelations: true,
  },
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PEER_PORT),
    graphiql: false,
    watch: false,
    websockets: false,
  },
  grafast: { explain: false },
};

export default preset;
