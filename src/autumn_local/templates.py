"""The HTML pages a person sees: plain, server-rendered, no JavaScript.

Every page carries the same small stylesheet inline. The Content-Security-Policy allows it by
its hash (`STYLE_SRC`), not with 'unsafe-inline', so nothing else on a page can style it, and
`style="..."` attributes are not used anywhere.
"""

from __future__ import annotations

import base64
import hashlib

from markupsafe import Markup

STYLESHEET = """
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: #f6f5f2; color: #1f2328; overflow-wrap: anywhere;
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 30rem; margin: 3rem auto; background: #fff; padding: 2rem;
       border-radius: 12px; box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
h1 { font-size: 1.35rem; line-height: 1.3; margin: 0 0 .75rem; }
h2 { font-size: 1rem; margin: 1.5rem 0 .4rem; }
p { margin: .5rem 0; }
a { color: #9a3412; }
label { display: block; margin: 1rem 0 .3rem; font-weight: 600; }
input, select { display: block; width: 100%; max-width: 100%; padding: .55rem .65rem;
                font: inherit; color: inherit; background: #fff;
                border: 1px solid #b8b8b8; border-radius: 6px; }
input:focus, select:focus, button:focus-visible, summary:focus-visible {
  outline: 3px solid #fdba74; outline-offset: 1px; }
button { font: inherit; padding: .6rem 1.3rem; border-radius: 6px; border: 1px solid #999;
         background: #fff; color: inherit; cursor: pointer; }
button.primary { background: #c2410c; border-color: #c2410c; color: #fff; font-weight: 600; }
.actions { display: flex; flex-wrap: wrap; gap: .75rem; margin-top: 1.5rem; }
.actions button { flex: 1 1 8rem; }
.error { color: #b91c1c; }
.muted, .help { color: #57606a; font-size: .9rem; }
.help { margin-top: .4rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
       font-size: .9em; background: #f1f1f1; padding: 0 .2rem; border-radius: 3px; }
.pairing { margin: 1.25rem 0; padding: 1rem; text-align: center;
           background: #fff7ed; border: 2px solid #fdba74; border-radius: 10px; }
.pairing h2 { margin: 0; font-size: .85rem; text-transform: uppercase; letter-spacing: .06em;
              color: #9a3412; }
.pairing-code { margin: .25rem 0; font: 700 2rem/1.2 ui-monospace, SFMono-Regular, Menlo,
                Consolas, monospace; letter-spacing: .1em; overflow-wrap: normal; }
.pairing .requested { margin: 0 0 .5rem; color: #57606a; font-size: .9rem; }
.pairing .stale { margin: .75rem 0; padding: .5rem .75rem; text-align: left; color: #991b1b;
                  background: #fef2f2; border: 1px solid #fca5a5; border-radius: 6px; }
ul.permissions { margin: .4rem 0; padding-left: 1.25rem; }
details { margin: .5rem 0 0; font-size: .9rem; }
summary { cursor: pointer; color: #57606a; }
ul.scopes { columns: 10rem; column-gap: 1rem; margin: .5rem 0 0; padding-left: 1.1rem;
            font-size: .85rem; color: #444; }
footer { margin-top: 2rem; }
input.code { font: 600 1.4rem/1.2 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
             letter-spacing: .12em; text-transform: uppercase; }
input.code::placeholder { color: #8c959f; text-transform: none; }
@media (max-width: 32rem) {
  main { margin: .75rem; padding: 1.25rem; }
  .pairing-code { font-size: 1.75rem; }
}
"""


def _style_source(css: str) -> str:
    digest = hashlib.sha256(css.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


#: The CSP source that allows exactly `STYLESHEET` as an inline <style> element.
STYLE_SRC = _style_source(STYLESHEET)

#: Rendered verbatim (not escaped) into every page, so that its hash stays `STYLE_SRC`.
STYLE = Markup(STYLESHEET)  # noqa: S704 (this module's constant, no outside input)

LAYOUT_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Autumn (local)</title>
<style>{{ stylesheet }}</style>
</head>
<body>
<main>
"""

LAYOUT_FOOT = """
<footer class="muted">Autumn local stand-in</footer>
</main>
</body>
</html>
"""

SIGN_IN = (
    LAYOUT_HEAD
    + """
<h1>Sign in to Autumn</h1>
{% if continuing %}<p class="muted">Then you can approve the sign-in your terminal started.</p>
{% endif %}
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required
         autocapitalize="none" spellcheck="false" value="{{ email }}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password"
         required>
  <div class="actions">
    <button id="sign-in" class="primary" type="submit">Sign in</button>
  </div>
</form>
"""
    + LAYOUT_FOOT
)

# The organization, the permissions in plain words and Approve/Deny: the consent page and the
# device verification page share them.
_GRANT_FIELDS = """  <label for="org_id">Organization</label>
  <select id="org_id" name="org_id" aria-describedby="org-help">
    {% for org in orgs %}
    <option value="{{ org.id }}" data-slug="{{ org.slug }}"
            {% if org.id == selected_org %}selected{% endif %}>
      {{ org.name }} ({{ org.slug }})</option>
    {% else %}
    <option value="">(you belong to no organization)</option>
    {% endfor %}
  </select>
  {% if orgs %}
  <p class="help" id="org-help">Approving creates a sandbox key and a live key for the chosen
  organization. The CLI writes them into your project's <code>.env</code> file.</p>
  {% else %}
  <p class="help" id="org-help">You belong to no organization yet, so no keys can be created
  for you.</p>
  {% endif %}
  <h2>It will be able to</h2>
  <ul class="permissions" id="permissions">
    {% for line in permissions %}<li>{{ line }}</li>
    {% endfor %}
  </ul>
  <details>
    <summary>The {{ scopes|length }} permissions it asked for</summary>
    <ul class="scopes" id="scopes">
      {% for scope in scopes %}<li><code>{{ scope }}</code></li>{% endfor %}
    </ul>
  </details>
  <div class="actions">
    <button id="approve" class="primary" type="submit" name="action"
            value="approve">Approve</button>
    <button id="deny" type="submit" name="action" value="deny">Deny</button>
  </div>
"""

CONSENT = (
    LAYOUT_HEAD
    + """
<h1><span id="client-name">{{ client_name }}</span> wants to access your Autumn account</h1>
<p class="muted">Signed in as <strong id="user-email">{{ email }}</strong></p>
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<section class="pairing" aria-labelledby="pairing-heading">
  <h2 id="pairing-heading">Pairing code</h2>
  <p class="pairing-code" id="pairing-code">{{ pairing_code }}</p>
  <p>Check that your terminal shows the same code. If it does not, press Deny: this request
  did not come from your terminal.</p>
</section>
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
"""
    + _GRANT_FIELDS
    + """</form>
"""
    + LAYOUT_FOOT
)

# The hosted profile's consent page, laid out as hosted Autumn's is: no pairing code, the
# organization dropdown disabled when there is only one, a read-only permission list, and
# Cancel / Authorize.
HOSTED_CONSENT = (
    LAYOUT_HEAD
    + """
<h1>Authorize <span id="client-name">{{ client_name }}</span></h1>
<p><span id="client-name-again">{{ client_name }}</span> wants to access your Autumn
account.</p>
<p class="muted">Signed in as <strong id="user-email">{{ email }}</strong></p>
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label for="org_id">Organization</label>
  <select id="org_id" name="org_id"{% if orgs|length < 2 %} disabled{% endif %}>
    {% for org in orgs %}
    <option value="{{ org.id }}" data-slug="{{ org.slug }}"
            {% if org.id == selected_org %}selected{% endif %}>{{ org.name }}</option>
    {% else %}
    <option value="">No organization</option>
    {% endfor %}
  </select>
  <h2>Permissions</h2>
  <ul class="permissions" id="permissions">
    {% for line in permissions %}<li>{{ line }}</li>
    {% endfor %}
  </ul>
  <div class="actions">
    <button id="cancel" type="submit" name="action" value="deny">Cancel</button>
    <button id="authorize" class="primary" type="submit" name="action"
            value="approve">Authorize</button>
  </div>
</form>
"""
    + LAYOUT_FOOT
)

DEVICE_ENTER = (
    LAYOUT_HEAD
    + """
<h1>Enter the code from your terminal</h1>
<p class="muted">Signed in as <strong id="user-email">{{ email }}</strong></p>
<p>Your terminal (<code>atmn login</code>) shows a code of 8 letters, like
<code>BCDF-GHJK</code>. Enter it here to connect it to your Autumn account.</p>
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label for="user_code">Code</label>
  <input id="user_code" name="user_code" class="code" type="text" required
         autocomplete="one-time-code" autocapitalize="characters" autocorrect="off"
         spellcheck="false" maxlength="32" placeholder="XXXX-XXXX"
         aria-describedby="code-help"{% if error %} aria-invalid="true"{% endif %}
         value="{{ user_code }}"{% if not user_code or error %} autofocus{% endif %}>
  <p class="help" id="code-help">Upper or lower case, with or without the dash.</p>
  <div class="actions">
    <button id="continue" class="primary" type="submit" name="action"
            value="continue">Continue</button>
  </div>
</form>
"""
    + LAYOUT_FOOT
)

DEVICE_CONFIRM = (
    LAYOUT_HEAD
    + """
<h1><span id="client-name">{{ client_name }}</span> wants to access your Autumn account</h1>
<p class="muted">Signed in as <strong id="user-email">{{ email }}</strong></p>
{% if error %}<p class="error" id="error" role="alert">{{ error }}</p>{% endif %}
<section class="pairing" aria-labelledby="code-heading">
  <h2 id="code-heading">Code</h2>
  <p class="pairing-code" id="user-code">{{ user_code }}</p>
  <p class="requested" id="requested">Requested <time id="requested-at"
     datetime="{{ requested_at }}">{{ requested_ago }}</time></p>
  {% if stale %}<p class="stale" id="requested-warning"><strong>This sign-in was started
  {{ requested_ago }}</strong>, not just now. If someone sent you this link or code, press
  Deny.</p>{% endif %}
  <p>Check that your terminal shows the same code. If it does not, or you did not start this
  sign-in yourself, press Deny.</p>
</section>
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <input type="hidden" name="user_code" value="{{ user_code }}">
"""
    + _GRANT_FIELDS
    + """</form>
"""
    + LAYOUT_FOOT
)

DEVICE_DONE = (
    LAYOUT_HEAD
    + """
{% if approved %}
<h1 id="device-approved">Approved</h1>
<p>You approved <span id="client-name">{{ client_name }}</span>{% if org_name %} for
<strong id="org-name">{{ org_name }}</strong>{% endif %}.</p>
<p>Go back to your terminal: it finishes by itself in a few seconds. You can close this
page.</p>
{% else %}
<h1 id="device-denied">Denied</h1>
<p>Nothing was shared with <span id="client-name">{{ client_name }}</span>. Your terminal will
say that the sign-in was denied. You can close this page.</p>
{% endif %}
"""
    + LAYOUT_FOOT
)

ERROR = (
    LAYOUT_HEAD
    + """
<h1>{{ heading }}</h1>
<p class="error" id="error">{{ message }}</p>
{% if hint %}<p id="hint">{{ hint }}</p>{% endif %}
{% if code %}<p class="muted">Error code: <code id="error-code">{{ code }}</code></p>{% endif %}
"""
    + LAYOUT_FOOT
)

HOME = (
    LAYOUT_HEAD
    + """
<h1>Autumn (local)</h1>
{% if email %}
<p>Signed in as <strong id="user-email">{{ email }}</strong>.</p>
<form method="post" action="{{ sign_out }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <div class="actions">
    <button id="sign-out" type="submit">Sign out</button>
  </div>
</form>
{% else %}
<p>Not signed in. <a href="{{ sign_in }}">Sign in</a></p>
{% endif %}
"""
    + LAYOUT_FOOT
)
