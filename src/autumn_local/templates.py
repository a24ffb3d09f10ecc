"""The HTML pages a person sees: plain, server-rendered, no JavaScript."""

from __future__ import annotations

LAYOUT_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · Autumn (local)</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f6f5f2; color: #222; margin: 0; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem;
         border-radius: 10px; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  label { display: block; margin: .9rem 0 .3rem; font-weight: 600; }
  input, select { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
  button { padding: .55rem 1.2rem; font-size: 1rem; border-radius: 6px; border: 1px solid #999;
           background: #fff; cursor: pointer; margin-top: 1.2rem; }
  button.primary { background: #c2410c; border-color: #c2410c; color: #fff; }
  ul.scopes { columns: 2; font-size: .85rem; color: #444; padding-left: 1.1rem; }
  .error { color: #b91c1c; }
  .muted { color: #666; font-size: .85rem; }
  code { background: #f1f1f1; padding: 0 .2rem; }
</style>
</head>
<body>
<main>
"""

LAYOUT_FOOT = """
<p class="muted">Autumn local stand-in</p>
</main>
</body>
</html>
"""

SIGN_IN = (
    LAYOUT_HEAD
    + """
<h1>Sign in to Autumn</h1>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required
         value="{{ email }}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password"
         required>
  <button id="sign-in" class="primary" type="submit">Sign in</button>
</form>
"""
    + LAYOUT_FOOT
)

CONSENT = (
    LAYOUT_HEAD
    + """
<h1>{{ client_name }} wants to access your Autumn account</h1>
<p>Signed in as <strong id="user-email">{{ email }}</strong>.</p>
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="csrf_token" value="{{ csrf_token }}">
  <label for="org_id">Organization</label>
  <select id="org_id" name="org_id">
    {% for org in orgs %}
    <option value="{{ org.id }}" data-slug="{{ org.slug }}"
            {% if org.id == selected_org %}selected{% endif %}>
      {{ org.name }} ({{ org.slug }})</option>
    {% else %}
    <option value="">(you belong to no organization)</option>
    {% endfor %}
  </select>
  <p>It will be allowed to:</p>
  <ul class="scopes" id="scopes">
    {% for scope in scopes %}<li><code>{{ scope }}</code></li>{% endfor %}
  </ul>
  <button id="approve" class="primary" type="submit" name="action" value="approve">Approve</button>
  <button id="deny" type="submit" name="action" value="deny">Deny</button>
</form>
"""
    + LAYOUT_FOOT
)

ERROR = (
    LAYOUT_HEAD
    + """
<h1>{{ heading }}</h1>
<p class="error" id="error">{{ message }}</p>
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
  <button id="sign-out" type="submit">Sign out</button>
</form>
{% else %}
<p>Not signed in. <a href="{{ sign_in }}">Sign in</a></p>
{% endif %}
"""
    + LAYOUT_FOOT
)
