package wikistream;

import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * Waits for the broker, then creates the topic unless it exists: KafkaTopicInit BOOTSTRAP TOPIC PARTITIONS TIMEOUT_S.
 *
 * <p>The one topic tool of both stacks: the Kafka image compiles it at build time, the embedded stack
 * runs it from source (stack/kafka.py). It prints "topic 'NAME' created with N partitions" or
 * "topic 'NAME' already exists", and exits non-zero with the broker's reason when neither holds.
 */
public final class KafkaTopicInit {
    public static void main(String[] args) throws InterruptedException {
        try {
            ensure(args);
        } catch (ExecutionException | IllegalStateException e) {
            // One line a person can read: what was refused, and the broker's reason.
            Throwable cause = e.getCause() == null ? e : e.getCause();
            System.err.println("KafkaTopicInit: " + String.valueOf(e.getMessage()).lines().findFirst().orElse("") + " (" + cause + ")");
            System.exit(1);
        }
    }

    private static void ensure(String[] args) throws ExecutionException, InterruptedException {
        String bootstrap = args[0];
        String topic = args[1];
        int partitions = Integer.parseInt(args[2]);
        long deadline = System.currentTimeMillis() + 1000L * Long.parseLong(args[3]);
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        Exception last = null;
        while (System.currentTimeMillis() < deadline) {
            try (Admin admin = Admin.create(props)) {
                Set<String> names = admin.listTopics().names().get();
                if (names.contains(topic)) {
                    System.out.println("topic '" + topic + "' already exists");
                    return;
                }
                admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
                System.out.println("topic '" + topic + "' created with " + partitions + " partitions");
                return;
            } catch (ExecutionException e) {
                if (e.getCause() instanceof TopicExistsException) {
                    System.out.println("topic '" + topic + "' already exists");
                    return;
                }
                // A broker still starting answers with retriable errors; a refused name or size is final.
                if (!(e.getCause() instanceof RetriableException)) {
                    throw e;
                }
                last = e;
            } catch (RuntimeException e) {
                last = e;
            }
            Thread.sleep(1000);
        }
        throw new IllegalStateException("the broker at " + bootstrap + " did not accept the topic in time", last);
    }
}
