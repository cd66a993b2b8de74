"""The web console under /console: server-rendered pages (Jinja2), plain CSS and one small script.

Nothing is fetched at run time and nothing is built: templates and static files ship inside this
package. Pages call the same services the API calls (api → services → domain); the console is another
way in, with its own sign-in (a session cookie, services/console_auth.py) and CSRF-checked forms.
"""
