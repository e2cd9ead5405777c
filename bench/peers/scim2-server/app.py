"""scim2-server (PyPI) as a standalone SCIM service for scimitar-bench.

The package's own `scim2-server` command serves with the standard library's
`wsgiref` (a test server). Here the same pieces — the in-memory storage, the
default RFC 7643 schemas and resource types, the static bearer token check of
that command — are served by waitress, a production WSGI server. One process,
threads: the in-memory storage cannot be shared between worker processes.

    python app.py PORT TOKEN [THREADS]
"""

import sys

import waitress
from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_resource_types
from scim2_server.utils import load_default_schemas
from scim2_server.utils import load_default_service_provider_config


def build(token: str) -> BearerTokenApplication:
    config = load_default_service_provider_config()
    config.authentication_schemes = [
        *(config.authentication_schemes or []),
        BEARER_TOKEN_SCHEME,
    ]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(),
        load_default_resource_types().values(),
        config=config,
    )
    return BearerTokenApplication(InMemoryStorage(), provider, bearer_tokens=[token])


if __name__ == "__main__":
    port, token = int(sys.argv[1]), sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    print(f"scim2-server on http://127.0.0.1:{port}/v2", flush=True)
    waitress.serve(build(token), host="127.0.0.1", port=port, threads=threads,
                   connection_limit=256, ident="scim2-server")
