package dev.kinesisrecorder.android

import android.app.job.JobService
import dev.kinesisrecorder.support.repoRoot
import org.junit.Test
import org.w3c.dom.Element
import java.io.File
import javax.xml.parsers.DocumentBuilderFactory
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * What the library's manifest brings into every app (the Gradle build merges it): JobScheduler
 * refuses a job whose service lacks BIND_JOB_SERVICE, or a persisted job without
 * RECEIVE_BOOT_COMPLETED; neither can be seen without a device, so the file is read here.
 */
class ManifestTest {
    private val android = "http://schemas.android.com/apk/res/android"
    private val manifest = DocumentBuilderFactory.newInstance().apply { isNamespaceAware = true }
        .newDocumentBuilder()
        .parse(File(repoRoot, "android/kinesis-recorder/src/main/AndroidManifest.xml"))

    private fun elements(tag: String): List<Element> =
        manifest.getElementsByTagName(tag).let { nodes -> List(nodes.length) { nodes.item(it) as Element } }

    @Test
    fun declaresTheJobServiceForJobSchedulerOnly() {
        val services = elements("service").filter { it.getAttributeNS(android, "name") == RecorderJobService::class.java.name }
        assertEquals(1, services.size, "RecorderJobService is declared")
        assertEquals("android.permission.BIND_JOB_SERVICE", services.single().getAttributeNS(android, "permission"))
        assertTrue(JobService::class.java.isAssignableFrom(RecorderJobService::class.java))
    }

    @Test
    fun asksForThePermissionsDeliveryNeeds() {
        val permissions = elements("uses-permission").map { it.getAttributeNS(android, "name") }.toSet()
        for (needed in listOf("INTERNET", "ACCESS_NETWORK_STATE", "RECEIVE_BOOT_COMPLETED")) {
            assertTrue("android.permission.$needed" in permissions, "missing $needed in $permissions")
        }
    }
}
