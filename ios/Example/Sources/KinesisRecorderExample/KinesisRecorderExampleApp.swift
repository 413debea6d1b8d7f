import SwiftUI
#if canImport(ExampleModel)
import ExampleModel  // SwiftPM (Package.swift); the Xcode project compiles the model into the app
#endif

@main
struct KinesisRecorderExampleApp: App {
    /// Created as the app launches: the model registers the background task,
    /// which iOS accepts only before launch ends.
    @State private var model = ExampleModel()

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
        }
    }
}
