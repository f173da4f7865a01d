import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/** Waits for the broker, then creates the topic unless it exists: KafkaTopicInit BOOTSTRAP TOPIC PARTITIONS TIMEOUT_S */
public final class KafkaTopicInit {
    public static void main(String[] args) throws Exception {
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
                last = e;
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(1000);
        }
        throw new IllegalStateException("the broker at " + bootstrap + " did not accept the topic in time", last);
    }
}
