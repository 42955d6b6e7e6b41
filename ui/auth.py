"""Sign-in (Streamlit's own `st.login` / `st.user`, OpenID Connect) and the role it gives.

Identity comes from the identity provider configured in `[auth]` of Streamlit's secrets
(`.streamlit/secrets.toml`, or the file `--secrets.files` names); what a person may do comes from
the roles file (`analytics.access`), read and checked once when the app starts. Without an `[auth]`
section there is no sign-in and everyone is a viewer, as before. The pages only decide what to
show; `analytics.access` refuses what a role does not allow whatever a page shows.
"""
from __future__ import annotations

import streamlit as st

from analytics import access
from analytics.safe_text import markdown_text


@st.cache_resource(show_spinner=False)
def roles() -> access.Roles:
    """The roles file, checked (raises `access.RolesFileError` with the problem named)."""
    return access.load()


def sign_in_configured() -> bool:
    """Whether an identity provider is configured (`[auth]` in Streamlit's secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises rather than return empty
        return False


def principal() -> access.Principal:
    """Who is using this session: a viewer unless signed in with a verified e-mail address that
    the roles file lists."""
    if not sign_in_configured() or not st.user.is_logged_in:
        return access.VIEWER
    email = st.user.get("email")
    if not email or st.user.get("email_verified") is False:
        return access.Principal(str(st.user.get("sub") or ""))  # no verified address: a viewer
    return roles().principal(str(email))


def account_box() -> None:
    """The sidebar's sign-in control: a button to sign in, or who is signed in with their role and
    a button to sign out. Nothing when no identity provider is configured."""
    if not sign_in_configured():
        return
    with st.sidebar:
        if not st.user.is_logged_in:
            st.button("Sign in (data managers)", icon=":material/login:", on_click=st.login,
                      help="Viewing needs no account. Registry data managers and admins sign in to "
                           "load data and see their rejected rows.")
            return
        who = principal()
        st.caption(f"Signed in as **{markdown_text(who.identity or 'unknown')}**: {who.describe()}")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout)
