"""The web dashboard served at `/`: Preact + htm ES modules under static/, libraries vendored under vendor/."""
