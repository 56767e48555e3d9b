"""Word pools for demo names: streets, communities, compounds, roads, shops and units around Jingmen.

The names are plausible, not a survey: the first community is 六合社区 (the Liuhe community of seed 001).
"""

STREETS = "龙泉街道 泉口街道 象山街道 白云街道 东宝山街道".split()

FIRST_COMMUNITY = "六合社区"
COMMUNITIES = """
象山社区 白云社区 金虾社区 龙井社区 月亮湖社区 竹园社区 东宝山社区 凤凰社区 兰台社区
鹿岭社区 泉口社区 天鹅社区 名泉社区 杨湾社区 车桥社区 中天社区 文化社区 培公社区
""".split()

ROADS = """
象山大道 白云大道 龙井大道 长宁大道 深圳大道 培公大道 月亮湖路 竹园路 文化路 中天街
东宝路 泉口路 金虾路 天鹅路 凤凰路 兰台路 杨湾路 名泉路 海慧路 五里路 浏河路 石化大道
车桥路 虎牙关路 子陵路 响岭路 迎春街 龙泉路
""".split()

COMPOUND_STEMS = """
金泰 象山 龙井 白云 天鹅 名泉 阳光 碧桂 东方 翠微 月亮湖 竹园 兰台 凤凰 泉口 中天 世纪
锦绣 和园 幸福里 丽景 华府 馨苑 学府 滨湖 书香 嘉园 颐和 紫薇 春晖 银杏 桂花 荷塘 枫林
清华 绿城 金色 盛世 海慧 石化 车桥 鹿岭 东宝 长宁 文化 龙泉 杨湾 荆楚
""".split()
COMPOUND_SUFFIXES = "小区 花园 苑 家园 新村 公寓 佳苑 雅居 名邸 新城".split()
# Old work-unit compounds (单位宿舍), typical of an old district like Liuhe.
DORM_UNITS = """
荆门热电厂 荆门石化 市供电公司 市自来水公司 市一医院 东宝区政府 市粮食局 荆门日报社
市纺织厂 市机械厂 市建筑公司 市供销社 市邮电局 市商业局 龙泉中学 市二医院
""".split()

SCHOOLS = "龙泉中学 东宝区实验小学 象山小学 白云路小学 荆门市实验中学".split()
MARKETS = "中天农贸市场 白云农贸市场 龙井农贸市场".split()

GIVEN_MALE = "建国明志伟军华平强文杰斌涛浩宇鹏俊磊晨博涵睿轩然彬刚勇峰辉林海波成超东亮"
GIVEN_FEMALE = "秀英丽芳敏静燕霞玲婷雪慧娟兰梅琳欣怡佳悦萍红艳桂凤洁琴云莉娜颖璐倩雯"

ETHNICITIES = [("汉族", 975), ("土家族", 10), ("回族", 5), ("苗族", 4), ("满族", 3), ("蒙古族", 3)]

# Birth places (GB/T 2260 county codes) for ID numbers: mostly Jingmen, then Hubei, then elsewhere.
REGION_LOCAL = ["420802"] * 6 + "420804 420822 420881 420882".split()
REGION_HUBEI = "420102 420106 420111 421002 421003 420602 420606 420502 421202 420902".split()
REGION_OTHER = """
411302 411303 430102 430602 500103 500112 510104 440304 360102 410105 340104 320106 370102 610113 450103
""".split()

MOBILE_PREFIXES = """
130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159
166 176 177 178 180 181 182 183 185 186 187 188 189 191 198 199
""".split()

HEALTH_NOTES = "高血压 糖尿病 冠心病 慢阻肺 行动不便 听力下降 视力下降 骨质疏松 脑梗后遗症".split()
DISABILITY_NOTES = "肢体残疾二级 肢体残疾三级 视力残疾二级 听力残疾三级 智力残疾三级 精神残疾二级".split()

# Shops: kind → (share in %, name suffixes).
PLACE_KINDS: dict[str, tuple[int, list[str]]] = {
    "餐饮": (30, "牛肉面馆 热干面 快餐店 烧烤店 火锅店 饭店 早餐店 小龙虾馆 土菜馆 饺子馆".split()),
    "零售": (18, "便利店 超市 水果店 烟酒店 粮油店 副食店".split()),
    "美容美发": (8, "理发店 美发工作室 美甲店".split()),
    "医药": (6, "大药房 诊所 中医馆".split()),
    "五金建材": (5, "五金店 建材店 水电材料".split()),
    "维修服务": (6, "家电维修 开锁修鞋 手机维修 电动车维修".split()),
    "生活服务": (10, "洗衣店 快递驿站 照相馆 裁缝店 家政服务".split()),
    "文体娱乐": (5, "棋牌室 台球室 健身房".split()),
    "教育培训": (5, "培训中心 托管班 书画培训".split()),
    "服装": (7, "服装店 鞋店 童装店".split()),
}
SHOP_PREFIXES = """
好邻居 吉祥 老街 家和 鑫鑫 顺发 荆楚 阳光 惠民 便民 小城 金牌 福满 兴旺 老字号 邻里
幸福 向阳 红星 新新 宏达 佳佳 乐家 同心
""".split()

# Member units of the big party committees (name:kind, kind as in party.MemberUnitKind).
MEMBER_UNITS = [
    tuple(item.split(":"))
    for item in """
东宝区人民政府办公室:government 东宝区市场监督管理局:government 东宝区城市管理执法局:government
东宝区住房和城乡建设局:government 荆门市公安局东宝分局龙泉派出所:government 东宝区民政局:government
东宝区司法局:government 东宝区卫生健康局:government 荆门市第二人民医院:hospital 东宝区人民医院:hospital
龙泉街道社区卫生服务中心:hospital 龙泉中学:school 东宝区实验小学:school 荆门职业学院:school 象山小学:school
荆门日报社:institution 东宝区图书馆:institution 荆门市自来水公司:enterprise 国网荆门供电公司:enterprise
中国工商银行荆门东宝支行:enterprise 中国邮政荆门市分公司:enterprise 荆门市燃气公司:enterprise
中国移动荆门分公司:enterprise 湖北农商银行东宝支行:enterprise
""".split()
]
RESPONSIBILITIES = [
    "责任片区内环境卫生整治、文明创建和困难群众结对帮扶",
    "认领社区微心愿，参与“一老一小”志愿服务",
    "提供活动场地和专业力量，参与老旧小区改造议事",
    "每月组织在职党员到责任片区开展志愿服务不少于一次",
    "参与矛盾纠纷排查化解和平安建设巡逻",
]

VOLUNTEER_TEAMS = (
    "红马甲志愿服务队 巾帼志愿服务队 老党员志愿服务队 平安巡逻队 青年志愿服务队 环保志愿服务队".split()
)
SOCIAL_ORGS = "夕阳红合唱团 广场舞队 书画社 邻里互助会 老娘舅调解室 巧手编织社 太极拳协会 读书会 银发互助会 亲子成长营".split()
PROPERTY_STEMS = "鑫诚 荆楚 安居 恒泰 和美 金盾 宜家 康乐 祥和 诚信".split()
