// SCIMMY + SCIMMY Routers on Express, with an in-memory store, as a SCIM
// service for scimitar-bench. SCIMMY leaves storage to the application: its
// ingress/egress/degress handlers below keep users and groups in Maps, and
// hand filtering to SCIMMY's own `resource.filter.match`, the library's tool
// for it. Pagination and attribute projection are SCIMMY's.
//
//     node server.mjs PORT TOKEN
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const [port, token] = [Number(process.argv[2] ?? 8080), process.argv[3] ?? "secret"];
const users = new Map();      // id -> user
const userNames = new Map();  // lower-cased userName -> id, for uniqueness
const groups = new Map();     // id -> group

// Returns one stored resource, or the filtered list, for a SCIMMY egress.
function find(store, resource) {
    if (resource.id) {
        const found = store.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        return found;
    }
    const all = [...store.values()];
    return resource.filter ? resource.filter.match(all) : all;
}

// Keeps SCIMMY's validated instance as plain data, with server-side fields.
function save(store, resource, instance) {
    const now = new Date();
    const id = resource.id ?? randomUUID();
    const previous = store.get(id);
    if (resource.id && !previous) throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
    const data = JSON.parse(JSON.stringify(instance));
    delete data.schemas;
    delete data.meta;
    const saved = {...data, id, meta: {created: previous?.meta.created ?? now, lastModified: now}};
    store.set(id, saved);
    return saved;
}

SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
    .ingress((resource, instance) => {
        const key = instance.userName.toLowerCase();
        const holder = userNames.get(key);
        if (holder !== undefined && holder !== resource.id)
            throw new SCIMMY.Types.Error(409, "uniqueness", "userName is already taken");
        const previous = resource.id ? users.get(resource.id) : undefined;
        const saved = save(users, resource, instance);
        if (previous && previous.userName.toLowerCase() !== key) userNames.delete(previous.userName.toLowerCase());
        userNames.set(key, saved.id);
        return saved;
    })
    .egress((resource) => find(users, resource))
    .degress((resource) => {
        const user = users.get(resource.id);
        if (!user) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        users.delete(resource.id);
        userNames.delete(user.userName.toLowerCase());
    });

SCIMMY.Resources.declare(SCIMMY.Resources.Group)
    .ingress((resource, instance) => save(groups, resource, instance))
    .egress((resource) => find(groups, resource))
    .degress((resource) => {
        if (!groups.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
    });

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Bad bearer token");
        return "bench";
    },
}));
const server = app.listen(port, "127.0.0.1", () => console.log(`scimmy on http://127.0.0.1:${port}/scim/v2`));
// Node closes idle keep-alive connections after 5 s, racing a client that
// reuses one; servers behind a load balancer raise it, and so does this one.
server.keepAliveTimeout = 65_000;
