import Foundation
import Hummingbird
import HummingbirdTesting
import IntentStore
import Testing

@Suite struct PredictRoutesTests {
    @Test func predictionsAreAnsweredAfterTheirRowsAreStored() async throws {
        try await Fixture.withApp { client, store, creds in
            let one = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "where is my parcel?", "metadata": {"channel": "chat"}}"#)
            #expect(one.status == .ok)
            let body = one.object
            #expect(body["intent"] as? String == "track_package")
            #expect(body["adapter_version"] as? String == "v-test")
            #expect((body["top_k"] as? [Any])?.count == 3)
            #expect((body["id"] as? String)?.lowercased() == body["id"] as? String, "ids are lower-case UUIDs")
            let id = try #require((body["id"] as? String).flatMap(UUID.init(uuidString:)))
            let stored = try #require(try await store.prediction(id: id))
            #expect(stored.text == "where is my parcel?" && stored.intent == "track_package" && stored.metadata.contains("chat"))

            let batch = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": ["cancel my order", "reset my password"]}"#)
            #expect(batch.status == .ok)
            let items = try #require(batch.object["predictions"] as? [[String: Any]])
            #expect(items.map { $0["intent"] as? String } == ["cancel_order", "reset_password"])
            #expect(try await store.predictionCount() == 3)
        }
    }

    @Test func concurrentRequestsAreBatchedAndAllStored() async throws {
        try await Fixture.withApp { client, store, creds in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<40 {
                    group.addTask { try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "order \#(i) where is it"}"#).status }
                }
                var out: [HTTPResponse.Status] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(statuses.allSatisfy { $0 == .ok })
            #expect(try await store.predictionCount() == 40)
        }
    }

    @Test func badInputIsRefusedWithTheField() async throws {
        try await Fixture.withApp { client, store, creds in
            let cases: [(String, String)] = [
                (#"{"text": ""}"#, "text"),
                (#"{"text": "   "}"#, "text"),
                ("{\"text\": \"\(String(repeating: "a", count: 2001))\"}", "text"),
                (#"{"texts": []}"#, "texts"),
                ("{\"texts\": [\(Array(repeating: "\"hi\"", count: 65).joined(separator: ","))]}", "texts"),
                (#"{"texts": ["ok", ""]}"#, "texts.1"),
                (#"{"text": "a", "texts": ["b"]}"#, "text"),
                (#"{}"#, "text"),
                (#"{"text": 42}"#, "text"),
                (#"{"text": "unterminated"#, "body"),
            ]
            for (json, field) in cases {
                let r = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: json)
                #expect(r.status == .badRequest, "\(json.prefix(60))")
                #expect(r.errorField == field, "\(json.prefix(60)) → \(r.text)")
            }
            var invalid = ByteBuffer(string: #"{"text": "caf"#)
            invalid.writeBytes([0xC3, 0x28])
            invalid.writeString(#""}"#)
            let utf8 = try await client.call(.post, "/v1/predict", token: creds.clientToken, body: invalid)
            #expect(utf8.status == .badRequest && utf8.errorField == "body")
            #expect(try await store.predictionCount() == 0, "nothing refused is stored")
        }
    }

    @Test func callersMustAuthenticate() async throws {
        try await Fixture.withApp { client, _, creds in
            let anonymous = try await client.call(.post, "/v1/predict", token: nil, json: #"{"text": "hi"}"#)
            #expect(anonymous.status == .unauthorized)
            #expect((anonymous.object["error"] as? [String: Any])?["code"] as? String == "unauthenticated")
            let wrong = try await client.call(.post, "/v1/predict", token: "il_nope", json: #"{"text": "hi"}"#)
            #expect(wrong.status == .unauthorized)
            let clientFeedback = try await client.call(.post, "/v1/feedback", token: creds.clientToken, json: #"{"text": "hi", "intent": "cancel_order"}"#)
            #expect(clientFeedback.status == .forbidden)
            let agentImport = try await client.call(.post, "/v1/import", token: creds.agentToken, json: "{}")
            #expect(agentImport.status == .forbidden)
        }
    }
}
