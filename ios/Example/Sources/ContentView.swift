import SwiftUI
import KinesisRecorder

struct ContentView: View {
    @Bindable var model: ExampleModel

    var body: some View {
        NavigationStack {
            Form {
                if let failure = model.failure {
                    Section { Text(failure).foregroundStyle(.red) }
                }
                Section {
                    Button("Save 1,000 events") { model.saveThousandEvents() }
                    if let ms = model.lastBatchMilliseconds {
                        LabeledContent("Last batch on the main actor", value: String(format: "%.1f ms", ms))
                    }
                } header: {
                    Text("Save")
                } footer: {
                    Text("Saving validates and queues in memory; the disk write and the network happen on the recorder's threads.")
                }

                Section("Network") {
                    LabeledContent("Sending to", value: ExampleSettings.target)
                    Toggle("Network available", isOn: $model.networkAvailable)
                }

                Section("Store") {
                    LabeledContent("Pending records", value: "\(model.stats?.pendingRecords ?? 0)")
                    LabeledContent("Pending bytes", value: "\(model.stats?.pendingBytes ?? 0)")
                    LabeledContent("Submitted (total)", value: "\(model.stats?.recordsSubmitted ?? 0)")
                    Button("Submit now") { Task { await model.submitNow() } }
                    Button("Delete all records", role: .destructive) { model.deleteAll() }
                    if let report = model.lastReport {
                        Text(report).font(.footnote)
                    }
                }

                Section("Events") {
                    ForEach(Array(model.events.enumerated()), id: \.offset) { _, line in
                        Text(line).font(.footnote.monospaced())
                    }
                }
            }
            .navigationTitle("Kinesis Recorder")
            .refreshable { model.refresh() }
        }
    }
}
