"""Kinds the server does not run answer an ErrorObservation that names them, never an HTTP error
(OpenHands' client raises on one), as OpenHands' own server did without a browser."""

from openhands.events.action import BrowseInteractiveAction, BrowseURLAction
from openhands.events.observation import ErrorObservation


def test_browse_url(send):
    obs = send(BrowseURLAction(url='http://127.0.0.1:9/'))
    assert isinstance(obs, ErrorObservation)
    assert 'browse' in obs.content


def test_browse_interactive(send):
    obs = send(BrowseInteractiveAction(browser_actions='goto("http://127.0.0.1:9/")'))
    assert isinstance(obs, ErrorObservation)
    assert 'browse_interactive' in obs.content
