import SwiftUI

@main
struct KinesisRecorderExampleApp: App {
    var body: some Scene {
        WindowGroup {
            ContentView()
        }
    }
}
