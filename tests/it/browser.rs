//! Browser journeys in headless Chromium (being written).
