import Foundation
import Hummingbird
import HummingbirdTesting
import IntentStore
import Testing

@Suite struct FeedbackRoutesTests {
    @Test func agentsConfirmAndCorrectOncePerPrediction() async throws {
        try await Fixture.withApp { client, store, creds in
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"texts": ["cancel my order", "where is my parcel"]}"#)
            let ids = try #require((p.object["predictions"] as? [[String: Any]])?.compactMap { $0["id"] as? String })
            let confirm = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                                json: #"{"prediction_id": "\#(ids[0])", "verdict": "confirm"}"#)
            #expect(confirm.status == .created)
            #expect(confirm.object["intent"] as? String == "cancel_order")
            let again = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                              json: #"{"prediction_id": "\#(ids[0])", "verdict": "correct", "intent": "reset_password"}"#)
            #expect(again.status == .conflict && again.errorField == "prediction_id")
            let correct = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                                json: #"{"prediction_id": "\#(ids[1])", "verdict": "correct", "intent": "cancel_order", "note": "n"}"#)
            #expect(correct.status == .created)
            let stored = try #require(try await store.feedback(predictionID: UUID(uuidString: ids[1])!))
            #expect(stored.intent == "cancel_order" && stored.predictedIntent == "track_package" && stored.note == "n")
            let fetched = try await client.call(.get, "/v1/predictions/\(ids[1])", token: creds.agentToken)
            #expect(fetched.status == .ok && (fetched.object["feedback"] as? [String: Any])?["intent"] as? String == "cancel_order")
        }
    }

    @Test func badFeedbackIsRefusedWithTheField() async throws {
        try await Fixture.withApp { client, store, creds in
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "reset my password"}"#)
            let id = try #require(p.object["id"] as? String)
            let cases: [(String, HTTPResponse.Status, String)] = [
                (#"{"prediction_id": "\#(UUID().uuidString)", "verdict": "confirm"}"#, .notFound, "prediction_id"),
                (#"{"prediction_id": "not-a-uuid", "verdict": "confirm"}"#, .badRequest, "prediction_id"),
                (#"{"prediction_id": "\#(id)", "verdict": "maybe"}"#, .badRequest, "verdict"),
                (#"{"prediction_id": "\#(id)", "verdict": "correct", "intent": "no_such_intent"}"#, .badRequest, "intent"),
                (#"{"prediction_id": "\#(id)", "verdict": "correct"}"#, .badRequest, "intent"),
                (#"{"text": "", "intent": "cancel_order"}"#, .badRequest, "text"),
                (#"{"text": "hello"}"#, .badRequest, "intent"),
                (#"{"verdict": "confirm"}"#, .badRequest, "prediction_id"),
            ]
            for (json, status, field) in cases {
                let r = try await client.call(.post, "/v1/feedback", token: creds.agentToken, json: json)
                #expect(r.status == status && r.errorField == field, "\(json) → \(r.status.code) \(r.text)")
            }
            #expect(try await store.history(agentID: 2).isEmpty)
            let proposed = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                                 json: #"{"text": "my card was charged twice", "intent": "double_charge", "propose_intent": true}"#)
            #expect(proposed.status == .created)
            let intents = try await client.call(.get, "/v1/intents?all=true", token: creds.clientToken)
            let names = (intents.object["intents"] as? [[String: Any]])?.map { "\($0["name"]!):\($0["status"]!)" } ?? []
            #expect(names.contains("double_charge:proposed") && names.contains("cancel_order:active"))
        }
    }
}

@Suite struct DatasetRoutesTests {
    @Test func importIsAllOrNothingAndExportRoundTrips() async throws {
        try await Fixture.withApp { client, store, creds in
            let bad = "{\"text\": \"a\", \"intent\": \"x\"}\n{\"text\": \"b\", \"intent\": \"y\"}\nnot json\n"
            let r1 = try await client.call(.post, "/v1/import", token: creds.adminToken, json: bad, contentType: "application/jsonl")
            #expect(r1.status == .badRequest && r1.errorField == "line 3", "\(r1.text)")
            let badCSV = "text,intent\nhello,greet\n\"unterminated,greet\n"
            let r2 = try await client.call(.post, "/v1/import?kind=golden", token: creds.adminToken, json: badCSV, contentType: "text/csv")
            #expect(r2.status == .badRequest)
            #expect(try await store.exampleCount(kind: .golden) == 0)
            let csv = "text,intent\n\"hello, there\",greet\nbye,farewell\n"
            let r3 = try await client.call(.post, "/v1/import?kind=golden", token: creds.adminToken, json: csv, contentType: "text/csv")
            #expect(r3.status == .created && r3.object["inserted"] as? Int == 2)
            let out = try await client.call(.get, "/v1/export?kind=golden&format=csv", token: creds.adminToken)
            #expect(out.text == "text,intent\n\"hello, there\",greet\nbye,farewell\n")
            let jsonl = try await client.call(.get, "/v1/export?kind=golden", token: creds.adminToken)
            #expect(jsonl.text.split(separator: "\n").count == 2)
            let roundTrip = try await client.call(.post, "/v1/import?kind=golden", token: creds.adminToken, json: jsonl.text, contentType: "application/jsonl")
            #expect(roundTrip.object["duplicates"] as? Int == 2)
            let kind = try await client.call(.get, "/v1/export?kind=secret", token: creds.adminToken)
            #expect(kind.status == .badRequest && kind.errorField == "kind")
        }
    }
}

@Suite struct OperationsRoutesTests {
    @Test func healthReadinessMetricsAndOpenAPI() async throws {
        try await Fixture.withApp { client, _, creds in
            #expect(try await client.call(.get, "/healthz", token: nil).status == .ok)
            let ready = try await client.call(.get, "/readyz", token: nil)
            #expect(ready.status == .ok && ready.object["adapter_version"] as? String == "v-test")
            _ = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "hi"}"#)
            let metrics = try await client.call(.get, "/metrics", token: nil).text
            for name in ["intentloop_predictions_total 1", "intentloop_http_requests_total", "intentloop_http_request_duration_seconds_bucket",
                         "intentloop_predict_batch_size", "intentloop_predict_queue_depth", "intentloop_prediction_write_batch"] {
                #expect(metrics.contains(name), "\(name)")
            }
            let spec = try await client.call(.get, "/openapi.yaml", token: nil).text
            for path in ["/v1/predict:", "/v1/predictions/{id}:", "/v1/feedback:", "/v1/intents:", "/v1/import:", "/v1/export:",
                         "/healthz:", "/readyz:", "/metrics:", "/openapi.yaml:"] {
                #expect(spec.contains("  \(path)\n"), "\(path) documented")
            }
        }
    }
}
