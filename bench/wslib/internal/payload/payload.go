package payload

// Msg is a ~200-byte JSON chat frame.
var Msg = []byte(`{"type":"message","room":"general","from":"user-12345","ts":1700000000000,"seq":42,"text":"Hello everyone, this is a typical small chat message used for the websocket benchmark ok"}`)
