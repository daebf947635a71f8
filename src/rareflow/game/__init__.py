"""The rare-earth war as a game: China and an allied group choose policies against each
other, with the market LP inside (docs/game.md)."""
