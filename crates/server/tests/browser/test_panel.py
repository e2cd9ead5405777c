"""The admin panel (/admin) end to end, in Debian's Chromium through
Playwright, against a real `scimitar serve` on a throw-away SQLite database.

Run through `.ci/panel` (README.md beside this file). The tests find
elements as a person does, by their labels, roles and names
(get_by_label, get_by_role): the panel's contract is its visible text, not
its markup.

Env: SCIMITAR_BIN (the binary; default target/debug/scimitar),
     PANEL_SCREENSHOTS (where the screenshots go; default a temp dir),
     PANEL_CHROMIUM (default /usr/bin/chromium),
     PANEL_ARTIFACTS (a failed test leaves each open page's screenshot,
     HTML and the server's log there).
"""

import http.server
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from standardwebhooks.webhooks import Webhook

REPO = Path(__file__).resolve().parents[4]
CHROMIUM = os.environ.get("PANEL_CHROMIUM", "/usr/bin/chromium")
# As root, in a container, with no network but the loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}

TENANT_NAV = [
    "Setup",
    "API keys",
    "Subaccounts",
    "Groups",
    "Users",
    "Provisioning log",
    "Sync health",
]
OPERATOR_NAV = ["Tenants", "Events", "Webhooks"]

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Entra's Object ID of the group in the guide's example.
GROUP_ID = "5e6f7a8b-1c2d-4e3f-9a0b-1c2d3e4f5a6b"

expect.set_options(timeout=5_000)


# ---------------------------------------------------------------- server


class Server:
    """`scimitar serve` on 127.0.0.1, a port of its own, a database of its
    own, no rate limit."""

    def __init__(self, binary, *extra_args):
        self.dir = Path(tempfile.mkdtemp(prefix="scimitar-panel."))
        self.token = secrets.token_hex(32)
        # Nothing of the caller's own scimitar settings (a token file would
        # conflict with --admin-token, a public URL change the setup page).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMITAR_")}
        self.env["SCIMITAR_DATABASE_URL"] = f"sqlite://{self.dir}/db.sqlite"
        self.log = self.dir / "server.log"
        self.proc = None
        migrated = subprocess.run(
            [binary, "migrate"], env=self.env, capture_output=True, text=True
        )
        if migrated.returncode != 0:
            self.remove()
            raise RuntimeError(f"{binary} migrate failed:\n{migrated.stderr}")
        out = self.dir / "server.out"
        with open(out, "wb") as stdout, open(self.log, "wb") as stderr:
            self.proc = subprocess.Popen(
                [
                    binary, "serve",
                    "--listen", "127.0.0.1:0",
                    "--admin-token", self.token,
                    "--rate-limit-per-second", "0",
                    # The browser keeps connections open; a stop need not
                    # wait for them.
                    "--shutdown-grace-secs", "1",
                    *extra_args,
                ],
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 15
        while True:
            found = re.search(r"^listening on (\S+)$", out.read_text(), re.M)
            if found:
                self.base = f"http://{found.group(1)}"
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"the server did not start:\n{log}")
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, path):
        return self.base + path

    # -- HTTP helpers: (status, the body as JSON; as text if it is none,
    # None if empty)

    def http(self, method, path, headers=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url(path), data=data, method=method, headers=headers or {}
        )
        if data is not None:
            req.add_header("Content-Type", "application/scim+json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        if not raw.strip():
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def admin_api(self, method, path, body=None):
        """The admin REST API (/admin/v1) with the operator's token."""
        return self.http(
            method,
            "/admin/v1" + path,
            {"Authorization": f"Bearer {self.token}"},
            body,
        )

    def scim(self, method, path, key, body=None):
        """SCIM (/scim/v2) with a tenant's API key."""
        return self.http(
            method, "/scim/v2" + path, {"Authorization": f"Bearer {key}"}, body
        )

    def tenant(self, name="Contoso", region="eu"):
        status, body = self.admin_api("POST", "/tenants", {"name": name, "region": region})
        assert status == 201, body
        return body["id"]

    def api_key(self, tenant, label="test"):
        status, body = self.admin_api("POST", f"/tenants/{tenant}/apikeys", {"label": label})
        assert status == 201, body
        return body["key"]

    def portal_link(self, tenant):
        """A single-use link into the tenant's panel (absolute, or made so)."""
        status, body = self.admin_api("POST", f"/tenants/{tenant}/portal-links", {})
        assert status == 201, body
        assert body.get("expiresAt"), body
        url = body["url"]
        return self.url(url) if url.startswith("/") else url


@pytest.fixture(scope="session")
def binary():
    path = os.environ.get("SCIMITAR_BIN") or str(REPO / "target/debug/scimitar")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no scimitar binary at {path}: set SCIMITAR_BIN or run .ci/panel")
    return path


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    wanted = os.environ.get("PANEL_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def start_server(binary, request):
    """Starts servers (`start_server("--portal-link-ttl-secs", "1")`);
    each is stopped after the test, and after the browser contexts."""
    started = []
    failed_before = request.session.testsfailed

    def start(*extra_args):
        server = Server(binary, *extra_args)
        started.append(server)
        return server

    yield start
    failed = request.session.testsfailed > failed_before
    for server in started:
        server.stop()
        if failed and os.environ.get("PANEL_ARTIFACTS"):
            dest = Path(os.environ["PANEL_ARTIFACTS"]) / request.node.name
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log, dest / f"server-{server.base.rsplit(':', 1)[1]}.log")
        server.remove()


@pytest.fixture
def server(start_server):
    return start_server()


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request, answers 204."""

    def __init__(self):
        self.got = []
        got = self.got

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hooks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.got) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{n} webhook requests awaited, {len(self.got)} came")
            time.sleep(0.05)
        return list(self.got)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser, start_server, request):
    """Fresh browser contexts (each its own cookies: one person each),
    closed after the test. On a failure, each open page is described in
    the test's captured output (and kept in PANEL_ARTIFACTS if set)."""
    contexts = []
    failed_before = request.session.testsfailed

    def make(server):
        ctx = browser.new_context(base_url=server.base, viewport=VIEWPORT)
        ctx.set_default_timeout(10_000)
        contexts.append(ctx)
        return ctx

    yield make
    if request.session.testsfailed > failed_before:
        describe_pages(contexts, request.node.name)
    for ctx in contexts:
        ctx.close()


def describe_pages(contexts, test_name):
    artifacts = os.environ.get("PANEL_ARTIFACTS")
    dest = Path(artifacts) / test_name if artifacts else None
    if dest:
        dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for ctx in contexts:
        for page in ctx.pages:
            n += 1
            try:
                text = page.locator("body").inner_text(timeout=1_000)
            except Exception as err:  # the page may be gone or blank
                text = f"({err})"
            print(f"--- open page {n}: {page.url}\n{text[:3000]}")
            if dest:
                try:
                    page.screenshot(path=str(dest / f"page-{n}.png"))
                    (dest / f"page-{n}.html").write_text(page.content())
                except Exception:
                    pass


# ---------------------------------------------------------------- helpers


def h1(page: Page):
    return page.get_by_role("heading", level=1)


def nav_link(page: Page, name):
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def go(page: Page, name, heading=None):
    """Follows a nav link and waits for the screen's h1."""
    nav_link(page, name).click()
    expect(h1(page)).to_have_text(heading or name)


def select(page: Page, label):
    """A select by its label. A label that wraps its select has the
    selected option in its accessible name ("Subaccount (tenant root)"), so
    the name need only start with the label."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}\b"))


def body_text(page: Page):
    return page.locator("body").inner_text()


def reload_until(page: Page, check, what, timeout=5.0):
    """Reloads a GET page until `check(page)` holds (the provisioning log
    is written a few milliseconds after the request it records)."""
    deadline = time.monotonic() + timeout
    while not check(page):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}; the page says:\n{body_text(page)[:3000]}")
        time.sleep(0.2)
        page.reload()


def shot(page: Page, screenshots, name):
    page.screenshot(path=str(screenshots / name))


def button_or_link(scope, name):
    return scope.get_by_role("button", name=name, exact=True).or_(
        scope.get_by_role("link", name=name, exact=True)
    )


def open_portal(ctx, server, tenant):
    """A tenant administrator's session: the portal link, opened."""
    page = ctx.new_page()
    page.goto(server.portal_link(tenant))
    expect(page).to_have_url(re.compile(rf"/admin/t/{re.escape(tenant)}/setup$"))
    expect(h1(page)).to_have_text("Setup")
    return page


def sign_in_operator(ctx, server):
    page = ctx.new_page()
    page.goto("/admin")
    expect(h1(page)).to_have_text("Sign in")
    page.get_by_label("Admin token", exact=True).fill(server.token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/tenants$"))
    expect(h1(page)).to_have_text("Tenants")
    return page


def assert_nav(page: Page, operator):
    nav = page.get_by_role("navigation")
    for name in TENANT_NAV:
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    for name in OPERATOR_NAV:
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(
            1 if operator else 0
        )
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


def assert_cookies_locked(ctx):
    cookies = ctx.cookies()
    assert cookies, "no session cookie"
    for c in cookies:
        assert c["httpOnly"], c
        assert c["sameSite"] == "Strict", c


def assert_no_session(page: Page, path):
    """`path` does not open for this context: it shows the sign-in page or
    refuses (401, 403, 404)."""
    resp = page.goto(path)
    expect(page.get_by_role("heading", name="Setup", exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="Tenants", exact=True)).to_have_count(0)
    if resp.status not in (401, 403, 404):
        expect(h1(page)).to_have_text("Sign in")


def row(page: Page, text):
    return page.get_by_role("row").filter(has_text=text)


def cell_texts(locator):
    return [t.strip() for t in locator.get_by_role("cell").all_inner_texts()]


def member_count(cells):
    """The member-count cell of a group's row: "1", or "1 member"."""
    counts = [int(m[1]) for c in cells if (m := re.fullmatch(r"(\d+)( members?)?", c))]
    assert len(counts) == 1, cells
    return counts[0]


def scim_filter(expression):
    return urllib.parse.quote(expression, safe="")


def entra_test_connection(server, key, external_id):
    """What Entra's Test Connection sends: a user that cannot exist, then
    (here) the group the guide created, by its Object ID."""
    probe = scim_filter(f'userName eq "{uuid.uuid4()}"')
    status, body = server.scim("GET", f"/Users?aadOptscim062020&filter={probe}", key)
    assert status == 200, body
    assert body["totalResults"] == 0, body
    by_object_id = scim_filter(f'externalId eq "{external_id}"')
    status, body = server.scim(
        "GET", f"/Groups?filter={by_object_id}&excludedAttributes=members", key
    )
    assert status == 200, body
    assert body["totalResults"] == 1, body
    return body["Resources"][0]


def create_scim_user(server, key, **attrs):
    status, body = server.scim(
        "POST", "/Users", key, {"schemas": [SCIM_USER], "active": True, **attrs}
    )
    assert status == 201, body
    return body["id"]


def add_member(server, key, group, user):
    status, body = server.scim(
        "PATCH",
        f"/Groups/{group}",
        key,
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": user}]}],
        },
    )
    assert status in (200, 204), body


def submit(page: Page, button):
    """Clicks a form's submit button; the answer to its POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        button.click()
    return answer.value


# ---------------------------------------------------------------- tests


def test_guide_step_2(server, new_context, screenshots):
    """The guide's step 2: a customer opens the portal link, builds the
    subaccount and the group, issues Entra's key; Entra's Test Connection
    then shows in the log, the health and the setup page."""
    tenant = server.tenant("Contoso")
    ctx = new_context(server)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    page = open_portal(ctx, server, tenant)

    # Setup: the two URLs, copyable; no request yet.
    assert_nav(page, operator=False)
    assert_cookies_locked(ctx)
    scim_url = server.url("/scim/v2")
    expect(page.locator("code#scim-url")).to_have_text(scim_url)
    expect(page.locator("code#entra-url")).to_have_text(scim_url + "?aadOptscim062020")
    copies = page.get_by_role("button", name="Copy", exact=True)
    expect(copies).to_have_count(2)
    copies.first.click()
    assert page.evaluate("navigator.clipboard.readText()") in (
        scim_url + "?aadOptscim062020",
        scim_url,
    )
    expect(page.get_by_text(re.compile("no request yet", re.I))).to_be_visible()
    shot(page, screenshots, "setup.png")

    # Subaccounts: Sweden at the root, Stockholm under it.
    go(page, "Subaccounts")
    page.get_by_label("Name", exact=True).fill("Sweden")
    select(page, "Parent subaccount").select_option(label="(tenant root)")
    page.get_by_role("button", name="Create subaccount", exact=True).click()
    expect(h1(page)).to_have_text("Subaccounts")
    expect(page.get_by_text("Sweden").filter(visible=True).first).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Stockholm")
    select(page, "Parent subaccount").select_option(label="Sweden")
    page.get_by_role("button", name="Create subaccount", exact=True).click()
    expect(page.get_by_text("Stockholm").filter(visible=True).first).to_be_visible()
    status, subs = server.admin_api("GET", f"/tenants/{tenant}/subaccounts")
    assert status == 200, subs
    by_name = {s["name"]: s for s in subs}
    assert set(by_name) == {"Sweden", "Stockholm"}, subs
    assert by_name["Stockholm"].get("parentId") == by_name["Sweden"]["id"], subs
    shot(page, screenshots, "subaccounts.png")

    # Groups: Stockholm staff in Sweden, with Entra's Object ID.
    go(page, "Groups")
    subaccount = select(page, "Subaccount")
    expect(subaccount.get_by_role("option", name="(tenant root)", exact=True)).to_have_count(1)
    expect(subaccount.get_by_role("option", name="Sweden", exact=True)).to_have_count(1)
    expect(page.get_by_text(re.compile("Object ID")).first).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Stockholm staff")
    subaccount.select_option(label="Sweden")
    page.get_by_label("Group ID", exact=True).fill(GROUP_ID)
    page.get_by_role("button", name="Create group", exact=True).click()
    expect(h1(page)).to_have_text("Groups")
    link = page.get_by_role("link", name="Stockholm staff", exact=True)
    expect(link).to_have_attribute(
        "href", re.compile(rf"/admin/t/{re.escape(tenant)}/groups/[^/?#]+$")
    )
    group_id = link.get_attribute("href").rsplit("/", 1)[1]
    cells = cell_texts(row(page, "Stockholm staff"))
    assert "Sweden" in cells and GROUP_ID in cells, cells
    assert member_count(cells) == 0, cells

    # API keys: one for Entra ID, shown this once.
    go(page, "API keys")
    page.get_by_label("Label", exact=True).fill("Entra ID")
    page.get_by_role("button", name="Issue API key", exact=True).click()
    key = page.locator("code#new-key").inner_text().strip()
    assert len(key) >= 20, key
    expect(page.get_by_text(re.compile("will not be shown again"))).to_be_visible()
    expect(row(page, "Entra ID")).to_have_count(1)
    shot(page, screenshots, "api-keys.png")

    # Entra's Test Connection, with that key.
    group = entra_test_connection(server, key, GROUP_ID)
    assert group["displayName"] == "Stockholm staff", group
    assert group["id"] == group_id, group

    # The provisioning log: both requests, newest first.
    go(page, "Provisioning log")

    def both_logged(p):
        rows = p.get_by_role("row").all_inner_texts()
        users = [i for i, r in enumerate(rows) if "GET" in r and "/Users" in r]
        groups = [i for i, r in enumerate(rows) if "GET" in r and "/Groups" in r]
        return len(users) == 1 and len(groups) == 1 and groups[0] < users[0]

    reload_until(page, both_logged, "the log does not show GET /Groups above GET /Users")

    # Sync health: the requests counted, a success, no failure.
    go(page, "Sync health")
    expect(page.locator("svg").first).to_be_visible()
    expect(page.get_by_text(re.compile("last failure", re.I)).first).to_be_visible()

    def counted(p):
        text = body_text(p)
        last = re.search(r"last success\W*([^\n]*)", text, re.I)
        return re.search(r"\b2 requests\b", text) or (last and re.search(r"\d", last.group(1)))

    reload_until(page, counted, "sync health shows neither '2 requests' nor a last success")

    # Setup: the Test Connection seen.
    go(page, "Setup")
    expect(page.get_by_text(re.compile("Test Connection received")).first).to_be_visible()
    expect(page.get_by_text(re.compile("no request yet", re.I))).to_have_count(0)

    # A user from Entra, member of the group, for the user screens.
    user_id = create_scim_user(
        server,
        key,
        userName="mia.berg@contoso.example",
        externalId=str(uuid.uuid4()),
        displayName="Mia Berg",
        title="Site Manager",
        name={"givenName": "Mia", "familyName": "Berg"},
        emails=[{"value": "mia.berg@contoso.example", "type": "work", "primary": True}],
    )
    add_member(server, key, group_id, user_id)

    go(page, "Users")
    page.get_by_label("Search", exact=True).fill("nobody@contoso.example")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name="mia.berg@contoso.example")).to_have_count(0)
    page.get_by_label("Search", exact=True).fill("mia.berg@contoso.example")
    page.get_by_role("button", name="Search", exact=True).click()
    user_link = page.get_by_role("link", name="mia.berg@contoso.example", exact=True)
    expect(user_link).to_have_attribute(
        "href", re.compile(rf"/admin/t/{re.escape(tenant)}/users/{re.escape(user_id)}$")
    )
    shot(page, screenshots, "users.png")
    user_link.click()
    expect(page).to_have_url(re.compile(rf"/users/{re.escape(user_id)}$"))
    for text in ("Mia Berg", "Site Manager", "Stockholm staff"):
        expect(page.get_by_text(text, exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile("identity provider", re.I)).first).to_be_visible()
    shot(page, screenshots, "user.png")

    go(page, "Groups")
    page.get_by_label("Search", exact=True).fill("Stockholm staff")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(link).to_be_visible()
    assert member_count(cell_texts(row(page, "Stockholm staff"))) == 1
    shot(page, screenshots, "groups.png")
    link.click()
    expect(page).to_have_url(re.compile(rf"/groups/{re.escape(group_id)}$"))
    expect(page.get_by_label("Name", exact=True)).to_have_value("Stockholm staff")
    expect(page.get_by_label("Group ID", exact=True)).to_have_value(GROUP_ID)
    selected = select(page, "Subaccount").evaluate(
        "s => s.options[s.selectedIndex].text"
    )
    assert selected.strip() == "Sweden", selected
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    shot(page, screenshots, "group.png")
    # Delete asks first, and says what goes with the group; not confirmed here.
    button_or_link(page, "Delete").first.click()
    expect(page.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    assert re.search(r"\b1\b[^\n]*membership", body_text(page)), body_text(page)
    status, still = server.admin_api("GET", f"/tenants/{tenant}/groups/{group_id}")
    assert status == 200 and still["memberCount"] == 1, still

    # The log and the health again, with the user's requests too.
    go(page, "Provisioning log")
    reload_until(
        page,
        lambda p: row(p, "POST").count() >= 1 and row(p, "PATCH").count() >= 1,
        "the log does not show POST /Users and PATCH /Groups",
    )
    shot(page, screenshots, "provisioning-log.png")
    go(page, "Sync health")
    shot(page, screenshots, "sync-health.png")

    # The operator's first screens.
    operator = new_context(server).new_page()
    operator.goto("/admin")
    expect(h1(operator)).to_have_text("Sign in")
    shot(operator, screenshots, "sign-in.png")
    operator.get_by_label("Admin token", exact=True).fill(server.token)
    operator.get_by_role("button", name="Sign in", exact=True).click()
    expect(h1(operator)).to_have_text("Tenants")
    expect(operator.get_by_role("link", name="Contoso", exact=True)).to_be_visible()
    shot(operator, screenshots, "tenants.png")


def test_operator_sign_in_and_tenant_creation(server, new_context):
    ctx = new_context(server)
    page = ctx.new_page()
    page.goto("/admin")
    expect(h1(page)).to_have_text("Sign in")

    # A wrong token: said so, still signed out.
    page.get_by_label("Admin token", exact=True).fill(secrets.token_hex(32))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(re.compile("wrong", re.I)).first).to_be_visible()
    expect(h1(page)).to_have_text("Sign in")
    expect(page.get_by_role("navigation")).to_have_count(0)
    assert_no_session(page, "/admin/tenants")

    page = sign_in_operator(ctx, server)
    assert_cookies_locked(ctx)
    expect(page.get_by_role("navigation").get_by_role("link", name="Tenants", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="Events", exact=True)).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Globex")
    page.get_by_label("Region", exact=True).fill("eu")
    page.get_by_role("button", name="Create tenant", exact=True).click()
    link = page.get_by_role("link", name="Globex", exact=True)
    expect(link).to_have_attribute("href", re.compile(r"/admin/t/[^/]+/setup$"))
    tenant = link.get_attribute("href").split("/")[-2]
    status, tenants = server.admin_api("GET", "/tenants")
    assert status == 200, tenants
    assert [(t["id"], t["name"], t["region"]) for t in tenants] == [(tenant, "Globex", "eu")]

    link.click()
    expect(page).to_have_url(re.compile(rf"/admin/t/{re.escape(tenant)}/setup$"))
    expect(h1(page)).to_have_text("Setup")
    assert_nav(page, operator=True)

    # The operator confirms the tenant's domains; a list that is not one
    # is refused in words and changes nothing.
    domains = page.get_by_label(re.compile("confirmed domains"))
    domains.fill("localhost")
    page.get_by_role("button", name="Save policies", exact=True).click()
    expect(h1(page)).to_have_text("Not saved")
    expect(page.get_by_text(re.compile('"localhost" is not a domain name'))).to_be_visible()
    page.go_back()
    domains = page.get_by_label(re.compile("confirmed domains"))
    domains.fill("Globex.example, globex.example.org")
    page.get_by_role("button", name="Save policies", exact=True).click()
    expect(page.get_by_text("Policies saved.")).to_be_visible()
    expect(page.locator("#user-name-domains")).to_have_text(re.compile(
        r"only globex\.example, globex\.example\.org, confirmed by the operator"))
    expect(page.get_by_label(re.compile("confirmed domains"))).to_have_value(
        "globex.example, globex.example.org")
    status, got = server.admin_api("GET", f"/tenants/{tenant}")
    assert status == 200 and got["policy"]["userNameDomains"] == [
        "globex.example", "globex.example.org"], got

    # Signing out ends the session, on the server too: its old cookie,
    # replayed in another browser, opens nothing.
    cookies = ctx.cookies()
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(h1(page)).to_have_text("Sign in")
    assert_no_session(page, "/admin/tenants")
    assert_no_session(page, f"/admin/t/{tenant}/setup")
    replay = new_context(server)
    replay.add_cookies(cookies)
    assert_no_session(replay.new_page(), "/admin/tenants")


def test_revoked_key_is_refused(server, new_context):
    tenant = server.tenant()
    page = open_portal(new_context(server), server, tenant)
    go(page, "API keys")
    page.get_by_label("Label", exact=True).fill("Entra ID")
    page.get_by_role("button", name="Issue API key", exact=True).click()
    key = page.locator("code#new-key").inner_text().strip()
    status, body = server.scim("GET", "/Users", key)
    assert status == 200, body

    # The list again (not the answer to the POST), then revoke, confirmed.
    go(page, "API keys")
    expect(page.locator("code#new-key")).to_have_count(0)
    button_or_link(row(page, "Entra ID"), "Revoke").click()
    expect(page.get_by_role("button", name="Revoke", exact=True)).to_be_visible()
    status, _ = server.scim("GET", "/Users", key)
    assert status == 200, "the confirmation page alone revoked the key"
    page.get_by_role("button", name="Revoke", exact=True).click()
    if not page.url.endswith("/keys"):
        go(page, "API keys")
    expect(row(page, "Entra ID")).to_contain_text(re.compile("revoked", re.I))
    expect(button_or_link(row(page, "Entra ID"), "Revoke")).to_have_count(0)

    status, body = server.scim("GET", "/Users", key)
    assert status == 401, body


def test_portal_link_single_use_and_expiry(server, start_server, new_context):
    tenant = server.tenant()
    link = server.portal_link(tenant)
    first = new_context(server)
    page = first.new_page()
    page.goto(link)
    expect(h1(page)).to_have_text("Setup")

    # The same link in another browser: used, and no session from it.
    other = new_context(server).new_page()
    other.goto(link)
    expect(other.get_by_text(re.compile("has already been used")).first).to_be_visible()
    expect(other.get_by_role("navigation")).to_have_count(0)
    assert_no_session(other, f"/admin/t/{tenant}/setup")
    # The first browser's session goes on.
    page.reload()
    expect(h1(page)).to_have_text("Setup")

    # A link not opened within its lifetime.
    short = start_server("--portal-link-ttl-secs", "1")
    short_tenant = short.tenant()
    link = short.portal_link(short_tenant)
    time.sleep(2)
    late = new_context(short).new_page()
    late.goto(link)
    expect(late.get_by_text(re.compile("has expired")).first).to_be_visible()
    expect(late.get_by_role("navigation")).to_have_count(0)
    assert_no_session(late, f"/admin/t/{short_tenant}/setup")


XSS_DISPLAY_NAME = "<script>window.__xss=1</script>"
XSS_TITLE = '"><img src=x onerror="window.__xss=2">'
XSS_GROUP = '<img src=x onerror="window.__xss=3">'
XSS_EXTERNAL_ID = "javascript:window.__xss=4"


def assert_inert(page: Page, *literals):
    page.wait_for_load_state("load")
    for text in literals:
        shown = text in body_text(page) or any(
            v == text
            for v in page.locator("input, textarea").evaluate_all("els => els.map(e => e.value)")
        )
        assert shown, f"{text!r} is not shown as text on {page.url}"
    assert page.locator('a[href^="javascript:" i]').count() == 0, page.content()
    assert page.locator("[onerror]").count() == 0, page.content()
    assert page.evaluate("window.__xss") is None


def test_idp_text_is_inert(server, new_context):
    """What the identity provider (or an administrator) names things is
    shown as text, never run."""
    tenant = server.tenant()
    key = server.api_key(tenant)
    user = create_scim_user(
        server, key, userName="xss@example.com", displayName=XSS_DISPLAY_NAME, title=XSS_TITLE
    )
    status, group = server.admin_api(
        "POST",
        f"/tenants/{tenant}/groups",
        {"displayName": XSS_GROUP, "externalId": XSS_EXTERNAL_ID},
    )
    assert status == 201, group
    add_member(server, key, group["id"], user)

    page = open_portal(new_context(server), server, tenant)
    go(page, "Users")
    expect(page.get_by_role("link", name="xss@example.com", exact=True)).to_be_visible()
    assert_inert(page, "xss@example.com")
    page.get_by_role("link", name="xss@example.com", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/users/{re.escape(user)}$"))
    assert_inert(page, XSS_DISPLAY_NAME, XSS_TITLE, XSS_GROUP)

    go(page, "Groups")
    expect(page.get_by_role("link", name=XSS_GROUP, exact=True)).to_be_visible()
    assert_inert(page, XSS_GROUP, XSS_EXTERNAL_ID)
    page.get_by_role("link", name=XSS_GROUP, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/groups/{re.escape(group['id'])}$"))
    assert_inert(page, XSS_GROUP, XSS_EXTERNAL_ID)


def test_csrf_refused(server, new_context):
    tenant = server.tenant()
    page = open_portal(new_context(server), server, tenant)
    go(page, "Groups")
    for form in page.locator("form").all():
        if (form.get_attribute("method") or "get").lower() == "post":
            expect(form.locator('input[type="hidden"][name="csrf"]')).to_have_count(1)

    # A wrong token, then none at all: 403, and nothing created.
    for name, tamper in [
        ("Forged group", "els => els.forEach(e => e.value = 'forged')"),
        ("Tokenless group", "els => els.forEach(e => e.remove())"),
    ]:
        page.get_by_label("Name", exact=True).fill(name)
        page.locator('input[name="csrf"]').evaluate_all(tamper)
        answer = submit(page, page.get_by_role("button", name="Create group", exact=True))
        assert answer.status == 403, (name, answer.status)
        page.goto(f"/admin/t/{tenant}/groups")
        expect(h1(page)).to_have_text("Groups")
        expect(page.get_by_text(name)).to_have_count(0)
    status, groups = server.admin_api("GET", f"/tenants/{tenant}/groups")
    assert status == 200 and groups == [], groups


def test_cross_tenant(server, new_context):
    a, b = server.tenant("Tenant A"), server.tenant("Tenant B")
    status, a_group = server.admin_api(
        "POST", f"/tenants/{a}/groups", {"displayName": "A staff", "externalId": str(uuid.uuid4())}
    )
    assert status == 201, a_group
    status, b_group = server.admin_api(
        "POST", f"/tenants/{b}/groups", {"displayName": "B staff", "externalId": str(uuid.uuid4())}
    )
    assert status == 201, b_group
    status, b_before = server.admin_api("GET", f"/tenants/{b}/groups/{b_group['id']}")
    assert status == 200, b_before
    page = open_portal(new_context(server), server, a)

    for path in (
        f"/admin/t/{b}/setup",
        f"/admin/t/{b}/groups",
        f"/admin/t/{b}/groups/{b_group['id']}",
        f"/admin/t/{a}/groups/{b_group['id']}",
    ):
        assert page.goto(path).status == 404, path
        expect(page.get_by_text("B staff")).to_have_count(0)
    # The operator's screens: refused, or somewhere else.
    page.goto("/admin/tenants")
    expect(page.get_by_role("heading", name="Tenants", exact=True)).to_have_count(0)
    expect(page.get_by_text("Tenant B")).to_have_count(0)

    # A's own forms, pointed at B's group: refused, B's group as it was.
    page.goto(f"/admin/t/{a}/groups/{a_group['id']}")
    expect(page.get_by_label("Name", exact=True)).to_have_value("A staff")
    retarget = "([a, b]) => document.querySelectorAll('form').forEach(f => f.action = f.action.replace(a, b))"
    page.evaluate(retarget, [a_group["id"], b_group["id"]])
    page.get_by_label("Name", exact=True).fill("Hijacked")
    answer = submit(page, page.get_by_role("button", name="Save", exact=True))
    assert answer.status == 404, answer.status

    page.goto(f"/admin/t/{a}/groups/{a_group['id']}")
    button_or_link(page, "Delete").first.click()
    expect(page.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    page.evaluate(retarget, [a_group["id"], b_group["id"]])
    answer = submit(page, page.get_by_role("button", name="Delete", exact=True))
    assert answer.status == 404, answer.status

    status, now = server.admin_api("GET", f"/tenants/{b}/groups/{b_group['id']}")
    assert status == 200, now
    assert now == b_before, (now, b_before)
    status, mine = server.admin_api("GET", f"/tenants/{a}/groups/{a_group['id']}")
    assert status == 200 and mine["displayName"] == "A staff", mine


def test_operator_webhooks(start_server, new_context, receiver, screenshots):
    """The operator registers an endpoint in the panel; provisioning then
    reaches a real receiver, signed as the Python library of Standard
    Webhooks checks (the lines docs/events.md gives); the endpoint's page
    shows the attempts; disabling holds events back, enabling sends them;
    deleting needs a confirmation."""
    server = start_server("--webhook-allow-http", "127.0.0.1")
    tenant = server.tenant("Contoso")
    key = server.api_key(tenant)
    page = sign_in_operator(new_context(server), server)
    go(page, "Webhooks")
    expect(page.get_by_text("No webhook endpoints yet")).to_be_visible()

    # Refused in words, registering nothing.
    page.get_by_label("URL", exact=True).fill("http://hooks.example.com/in")
    page.get_by_role("button", name="Register endpoint", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("--webhook-allow-http")
    assert server.admin_api("GET", "/webhook-endpoints") == (200, [])

    page.get_by_label("URL", exact=True).fill(receiver.url)
    page.get_by_label("Tenant id", exact=True).fill(tenant)
    page.get_by_label("user.created", exact=True).check()
    page.get_by_label("user.deprovisioned", exact=True).check()
    page.get_by_role("button", name="Register endpoint", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("will not be shown again")
    secret = page.locator("code#new-secret").inner_text().strip()
    assert secret.startswith("whsec_"), secret
    shot(page, screenshots, "webhooks.png")

    user = create_scim_user(server, key, userName="ada@contoso.com", displayName="Ada")
    status, _ = server.scim("DELETE", f"/Users/{user}", key)
    assert status == 204
    got = receiver.wait_for(2)
    verified = [Webhook(secret).verify(body, headers) for headers, body in got]
    assert [e["type"] for e in verified] == ["user.created", "user.deprovisioned"]
    assert all(e["data"]["resourceId"] == user for e in verified), verified

    go(page, "Webhooks")
    expect(page.locator("code#new-secret")).to_have_count(0)
    page.get_by_role("link", name=receiver.url, exact=True).click()
    expect(h1(page)).to_have_text("Webhook endpoint")
    reload_until(
        page,
        lambda p: p.get_by_role("row").filter(has_text="204").count() == 2,
        "two delivered attempts on the endpoint's page",
    )
    shot(page, screenshots, "webhook-endpoint.png")

    # Disabled, nothing is sent; enabled, what waited is.
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint disabled")
    create_scim_user(server, key, userName="grace@contoso.com", displayName="Grace")
    time.sleep(2)
    assert len(receiver.got) == 2, "delivered while disabled"
    page.get_by_role("button", name="Enable", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint enabled")
    third = receiver.wait_for(3)[2]
    assert Webhook(secret).verify(third[1], third[0])["data"]["userName"] == "grace@contoso.com"

    page.get_by_role("link", name="Delete endpoint", exact=True).click()
    expect(h1(page)).to_have_text("Delete webhook endpoint")
    assert len(server.admin_api("GET", "/webhook-endpoints")[1]) == 1
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Endpoint deleted")
    assert server.admin_api("GET", "/webhook-endpoints") == (200, [])
