//go:build !linux

package main

// checkAudio trusts the platform's audio (CoreAudio, WASAPI): opening it cannot end the app.
func checkAudio() error { return nil }
