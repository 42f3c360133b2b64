"""End-to-end: the official MCP Python SDK against a running Panicless server.

Its OAuth client discovers the authorization server from the 401, registers dynamically, runs
authorization code + PKCE, then initializes, lists tools, and calls a tool that reads and one
that writes. The browser step (sign in, approve the consent page) is done by a small HTTP client
that fills in the server's own forms, as a person would.

Usage: mcp_sdk_client.py BASE_URL EMAIL PASSWORD [MODE]
MODE is the SDK client's `mode`: "auto" (the default: it probes server/discover and speaks
2026-07-28 when the server does) or "legacy" (the initialize handshake, 2025-11-25).
Exit status 0 and a last line "MCP SDK end-to-end: OK" on success.
"""

import asyncio
import secrets
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2 as httpx
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.types import PromptReference, ResourceTemplateReference

REDIRECT_URI = "http://127.0.0.1:33418/callback"


class Forms(HTMLParser):
    """Collects the forms of a page: action, method, inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower(), "fields": {}, "buttons": []})
        elif self.forms and tag == "input":
            name = attrs.get("name")
            if name and attrs.get("type") != "submit":
                self.forms[-1]["fields"][name] = attrs.get("value", "")
            elif attrs.get("type") == "submit" and name:
                self.forms[-1]["buttons"].append((name, attrs.get("value", "")))
        elif self.forms and tag == "button":
            if attrs.get("name"):
                self.forms[-1]["buttons"].append((attrs["name"], attrs.get("value", "")))


def forms_of(html):
    parser = Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """Signs in and approves the consent page, following redirects until the client's
    redirect URI is reached."""

    def __init__(self, email, password):
        self.email = email
        self.password = password
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=10)
        self.result = None

    async def visit(self, url):
        for _ in range(10):
            if url.startswith(REDIRECT_URI):
                query = parse_qs(urlparse(url).query)
                if "error" in query:
                    raise RuntimeError(f"authorization failed: {query}")
                self.result = AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0])
                return
            response = await self.http.get(url)
            if response.status_code in (302, 303):
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")
            url = await self.submit_page(url, response.text)
        raise RuntimeError("too many redirects")

    async def submit_page(self, url, html):
        forms = [f for f in forms_of(html) if f["method"] == "post" and f["action"] not in ("/logout",)]
        login = next((f for f in forms if "password" in f["fields"]), None)
        if login:
            data = dict(login["fields"], email=self.email, password=self.password)
            form = login
        else:
            # The consent page: the form with an approving button.
            form = next((f for f in forms if any("approve" in (n + v).lower() or "allow" in (n + v).lower() for n, v in f["buttons"])), None)
            if form is None:
                raise RuntimeError(f"no login or consent form at {url}:\n{html[:2000]}")
            data = dict(form["fields"])
            name, value = next((n, v) for n, v in form["buttons"] if "approve" in (n + v).lower() or "allow" in (n + v).lower())
            data[name] = value
        response = await self.http.post(urljoin(url, form["action"]), data=data)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"POST {form['action']}: {response.status_code} {response.text[:500]}")
        return urljoin(url, response.headers["location"])


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client = client_info


async def main(base_url, email, password, mode="auto"):
    browser = Browser(email, password)

    async def redirect_handler(authorization_url):
        await browser.visit(authorization_url)

    async def callback_handler():
        assert browser.result is not None, "the browser step produced no code"
        return browser.result

    storage = MemoryStorage()
    oauth = OAuthClientProvider(
        server_url=f"{base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="MCP SDK end-to-end test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    async with httpx.AsyncClient(auth=oauth, timeout=30) as http:
        async with Client(streamable_http_client(f"{base_url}/mcp", http_client=http), mode=mode) as client:
            print("negotiated protocol version:", client.protocol_version)
            print("server:", client.server_info.name if client.server_info else None)
            tools = await client.list_tools()
            names = sorted(t.name for t in tools.tools)
            print("tools:", ", ".join(names))
            for expected in ["search_books", "add_book", "reading_stats", "log_reading"]:
                assert expected in names, f"{expected} missing from {names}"

            title = f"Piranesi {secrets.token_hex(4)}"
            added = await client.call_tool("add_book", {"title": title, "authors": ["Susanna Clarke"], "shelf": "to-read"})
            assert not added.is_error, added
            print("add_book:", added.content[0].text[:200])

            found = await client.call_tool("search_books", {"query": title.lower()})
            assert not found.is_error, found
            text = found.content[0].text
            assert title in text, text
            if found.structured_content is not None:
                assert found.structured_content["books"][0]["title"] == title, found.structured_content
            print("search_books:", text[:200])

            # Resources, prompts and completion, through the SDK's own types.
            resources = await client.list_resources()
            uris = [str(r.uri) for r in resources.resources]
            assert "library://stats" in uris, uris
            templates = await client.list_resource_templates()
            assert any(t.uri_template == "library://book/{id}" for t in templates.resource_templates), templates
            book_id = found.structured_content["books"][0]["id"] if found.structured_content else None
            if book_id is not None:
                read = await client.read_resource(f"library://book/{book_id}")
                assert title in read.contents[0].text, read
            prompts = await client.list_prompts()
            assert [p.name for p in prompts.prompts] == ["what_to_read_next", "year_in_reading", "author_reading"], prompts
            prompt = await client.get_prompt("author_reading", {"author": "Clarke"})
            assert title in prompt.messages[0].content.text, prompt
            shelves = await client.complete(ResourceTemplateReference(type="ref/resource", uri="library://shelf/{shelf}"), {"name": "shelf", "value": "to"})
            assert shelves.completion.values == ["to-read"], shelves
            years = await client.complete(PromptReference(type="ref/prompt", name="year_in_reading"), {"name": "year", "value": ""})
            print("resources:", len(uris), "prompts:", len(prompts.prompts), "years:", years.completion.values)

    assert storage.tokens is not None and storage.tokens.refresh_token, "a refresh token was issued"
    print("MCP SDK end-to-end: OK")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
