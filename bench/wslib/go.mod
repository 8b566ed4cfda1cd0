module github.com/parleychat/parley/bench/wslib

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/websocket v1.5.3
)
